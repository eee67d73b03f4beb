"""The codes the FHIR reader recognises, each with where it comes from.

Resources are recognised by these codes, never by ``meta.profile``: mCODE STU1 and STU2+ name
their profiles differently and most EHR data carries none. Tumour-marker codes are the mCODE
TumorMarkerTestVS (LOINC); answer codes are LOINC answer lists, SNOMED CT qualifiers and the
HL7 v3 ObservationInterpretation code system. A code not listed here is not read.
"""

from __future__ import annotations

from typing import Final

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"

# --- tumour markers (mCODE TumorMarkerTestVS) --------------------------------------------
ER_QUALITATIVE: Final = frozenset({"85337-4", "40556-3", "16112-5"})
PR_QUALITATIVE: Final = frozenset({"85339-0", "40557-1", "16113-3"})
# Quantitative receptor assays in fmol/mg or mass units have no cut-off in the sources.
RECEPTOR_UNREAD: Final = frozenset({"14130-9", "85310-1", "10861-3", "31207-4", "85331-7"})
ER_AND_PR_COMBINED: Final = "10480-2"
HER2_IHC: Final = frozenset({"18474-7", "85319-2", "72383-3"})
HER2_ISH: Final = frozenset({"85318-4", "31150-6"})
HER2_ISH_RATIO: Final = "49683-6"  # HER2 gene copy number / chromosome 17 copy number, FISH
HER2_INTERPRETATION: Final = "48676-1"
# Serum HER2 is not the tumour's HER2 status; copy number per nucleus alone decides nothing.
HER2_UNREAD: Final = frozenset({"32996-1", "42914-2", "51981-9", "72382-5", "74860-8"})
PDL1_QUALITATIVE: Final = frozenset({"83052-1", "83055-4", "83057-0", "85147-7"})
PDL1_NUMERIC: Final = "83053-9"  # cells / 100 viable tumour cells: cut-off depends on assay

# --- result values -------------------------------------------------------------------------
POSITIVE_ANSWERS: Final = frozenset({"LA6576-8", "10828004", "POS", "52101004", "LA9633-4"})
NEGATIVE_ANSWERS: Final = frozenset({"LA6577-6", "260385009", "NEG", "2667000", "LA9634-2"})
EQUIVOCAL_ANSWERS: Final = frozenset({"42425007", "IND", "LA11884-6"})

# --- genomics (mCODE GenomicVariant) ----------------------------------------------------------
GENE_STUDIED: Final = "48018-6"
GENOMIC_SOURCE_CLASS: Final = "48002-0"
GERMLINE: Final = "LA6683-2"
SOMATIC: Final = "LA6684-0"
CLINICAL_SIGNIFICANCE: Final = "53037-8"
NOT_PATHOGENIC: Final = frozenset(
    {"LA26333-7", "LA26334-5", "LA6675-8"}
)  # VUS, likely benign, benign
VARIANT_DETAIL: Final = frozenset({"81290-9", "48004-6", "48005-3", "81252-9", "69547-8"})
HGNC_SYSTEMS: Final = frozenset(
    {"http://www.genenames.org", "http://www.genenames.org/", "http://www.genenames.org/geneId"}
)
GENES: Final = {
    "HGNC:8975": "PIK3CA",
    "HGNC:1100": "BRCA1",
    "HGNC:1101": "BRCA2",
}

# --- menopause (ICHOM breast cancer IG) -------------------------------------------------------
MENOPAUSAL_STATUS: Final = "161712005"
MENOPAUSE_VALUES: Final = {"309606002": "premenopausal", "307429007": "postmenopausal"}

# --- disease status (mCODE CancerDiseaseStatus: STU1 88040-1, STU2+ 97509-4) --------------------
DISEASE_STATUS: Final = frozenset({"97509-4", "88040-1"})
WORSENED: Final = "271299001"

# --- staging --------------------------------------------------------------------------------
# LOINC (STU1/STU2) and SNOMED (STU3+) codes of stage-group and M-category observations.
STAGE_GROUP: Final = frozenset({"21908-9", "21902-2", "399537006", "399588009"})
M_CATEGORY: Final = frozenset({"21907-1", "21901-4", "399387003", "371497001", "277208005"})
# SNOMED values: AJCC cM0, cM1(a-c), pM1 (STU3+), older M0/M1 category and stage IV codes.
M0_VALUES: Final = frozenset({"1229901006", "30893008"})
M1_VALUES: Final = frozenset(
    {"1229903009", "1229904003", "1229907005", "1229910003", "1229916009", "55440008"}
)
STAGE_IV_VALUES: Final = frozenset({"258228008", "2640006", "1222837003"})
STAGE_I_TO_III_VALUES: Final = frozenset(
    {"258215001", "258219007", "258224005", "261638004", "261639007", "261640009"}
)

# --- conditions ----------------------------------------------------------------------------
BREAST_CANCER: Final = frozenset({"254837009", "372137005", "372064008", "408643008", "767444009"})
METASTATIC_NEOPLASM: Final = "128462008"
HISTOLOGY_EXTENSION: Final = "mcode-histology-morphology-behavior"
BODY_SITES: Final = {
    "272673000": ("bone",),
    "44300000": ("spine", "bone"),
    "421060004": ("spine", "bone"),
    "2748008": ("spine",),
    "10200004": ("liver",),
    "39607008": ("lung",),
    "181216001": ("lung",),
    "12738006": ("brain",),
    "3120008": ("pleura",),
    "76848001": ("pericardium",),
    "1231004": ("leptomeninges",),
    "78904004": ("chest_wall",),
    "87784001": ("soft_tissue",),
    "76752008": ("breast",),
    "80248007": ("breast",),
    "73056007": ("breast",),
    "181131000": ("breast",),
}
BREAST_SITES: Final = frozenset({"76752008", "80248007", "73056007", "181131000"})
# Lymph nodes may be the breast's regional nodes: not by themselves distant spread.
REGIONAL_NODE_SITES: Final = frozenset({"59441001", "245269009", "245265003", "245282001"})

# --- medications ---------------------------------------------------------------------------
TERMINATION_REASONS: Final = {
    "266721009": "progressed",  # absent response to treatment
    "407563006": "intolerant",  # treatment not tolerated
    "182992009": "completed",  # treatment completed
}
TERMINATION_EXTENSIONS: Final = ("mcode-termination-reason", "mcode-treatment-termination-reason")
INTENT_EXTENSIONS: Final = ("mcode-treatment-intent", "mcode-procedure-intent")
INTENT_SETTING: Final = {"373808002": "early", "363676003": "metastatic"}  # curative, palliative
