"""The ``mbc-rules`` command (also ``python -m mbc_rules``).

User mistakes (a missing file, an invalid profile, a bad rule file) are reported on stderr with
a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from mbc_rules._version import __version__
from mbc_rules.bundled import bundled_rules_dir
from mbc_rules.errors import MbcRulesError, RulebaseError
from mbc_rules.evaluation import EvaluationReport
from mbc_rules.fhir import FhirReading, read_fhir
from mbc_rules.load import parse_yaml
from mbc_rules.profile import PatientProfile, describe_validation_error
from mbc_rules.rulebase import Rulebase
from mbc_rules.schemas import json_schema

EXIT_USAGE = 2
EXIT_INVALID = 1


class UserError(Exception):
    """A mistake in what the user gave: reported in one message, without a traceback."""


def _read_profile(path: str) -> dict[str, Any]:
    name = "standard input" if path == "-" else path
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from error
    except AttributeError:  # a text-only stdin (tests, some embedders)
        raw = sys.stdin.read().encode("utf-8")
    return _profile_data(raw, name)


def _profile_data(raw: bytes, name: str) -> dict[str, Any]:
    """The mapping a profile file holds; every way the file can be wrong is one message."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise UserError(
            f"{name}, line {line}: not UTF-8 text (byte "
            f"0x{raw[error.start]:02x} at offset {error.start}); "
            "save the file as UTF-8"
        ) from error
    if not text.strip():
        raise UserError(f"{name}: the file is empty; a profile is a mapping of fields")
    try:
        data, problems = parse_yaml(text)  # YAML is a superset of JSON: both are read here
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        what = error.problem or error.context
        raise UserError(f"{name}{where}: not valid YAML or JSON: {what}") from error
    except yaml.YAMLError as error:
        raise UserError(f"{name}: not valid YAML or JSON: {error}") from error
    if problems:
        line, message = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{name}, line {line}: {message}{more}")
    if data is None:
        raise UserError(f"{name}: the file is empty (no data); a profile is a mapping of fields")
    if not isinstance(data, dict):
        raise UserError(f"{name}: a profile is a mapping of fields, not {type(data).__name__}")
    return data


def _rulebase(args: argparse.Namespace) -> Rulebase:
    local = getattr(args, "local", None)
    if getattr(args, "rules", None):
        if local:
            raise UserError("--local goes over the bundled rules, not over --rules")
        return Rulebase.load(args.rules)
    if local:
        return Rulebase.bundled().with_local(local)
    return Rulebase.bundled()


def _fhir_record(path: str) -> object | None:
    """The parsed JSON when ``path`` holds a FHIR Bundle or resource array, else None."""
    if path == "-":
        return None
    try:
        # A FIFO would block the open itself and a device never ends: regular files only.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UserError(f"cannot read {path}: not a regular file")
        with open(path, "rb") as handle:
            head = handle.read(4096).lstrip()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from error
    if not head.startswith((b"{", b"[")):
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (ValueError, RecursionError, OSError):
        return None  # not JSON: read as a profile, which reports the problem
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return data
    if (
        isinstance(data, list)
        and data
        and all(isinstance(item, dict) and "resourceType" in item for item in data[:20])
    ):
        return data
    return None


def _read_fhir(args: argparse.Namespace, record: object) -> FhirReading:
    return read_fhir(
        record,
        patient=getattr(args, "patient", None),
        conflicts=getattr(args, "conflicts", "report"),
        rulebase=_rulebase(args),
    )


def _print_problems(reading: FhirReading, out: TextIO) -> None:
    for conflict in reading.conflicts:
        out.write(f"conflict: {conflict}\n")
    for warning in reading.warnings:
        out.write(f"warning: {warning}\n")
    if reading.conflicts or reading.warnings:
        out.write("\n")


def _evaluate_input(args: argparse.Namespace, out: TextIO) -> PatientProfile | dict[str, Any]:
    """The profile to evaluate: a profile file, or a FHIR record read (its problems shown)."""
    record = _fhir_record(args.profile)
    if record is None:
        return _read_profile(args.profile)
    reading = _read_fhir(args, record)
    as_json = args.json or getattr(args, "format", None) == "json"
    _print_problems(reading, sys.stderr if as_json else out)
    return reading.profile


def _read(args: argparse.Namespace, out: TextIO) -> int:
    record = _fhir_record(args.record)
    reading = _read_fhir(args, record if record is not None else args.record)
    if args.json:
        out.write(reading.model_dump_json(indent=2) + "\n")
        return 0
    profile = reading.profile
    for name in PatientProfile.model_fields:
        if name == "prior_therapies":
            continue
        value = getattr(profile, name)
        if name not in profile.model_fields_set and name != "patient_id":
            continue
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        out.write(f"{name:<28} {shown:<28} {', '.join(reading.provenance.get(name, ()))}\n")
    unset = [n for n in PatientProfile.model_fields if n not in profile.model_fields_set]
    if "prior_therapies" in profile.model_fields_set:
        out.write("prior_therapies:\n")
        for index, therapy in enumerate(profile.prior_therapies or []):
            refs = reading.provenance.get(f"prior_therapies[{index}]", ())
            out.write(
                f"  {therapy.agent:<26} {therapy.outcome:<11} {therapy.setting:<11} "
                f"{', '.join(refs[:3])}{' ...' if len(refs) > 3 else ''}\n"
            )
    out.write(f"unknown (no resource gives them): {', '.join(unset) or 'none'}\n\n")
    if reading.drug_codes:
        # The codes as understood, so a user can audit what the history was read from.
        out.write("drug codes read:\n")
        for drug in reading.drug_codes:
            label = f"{drug.code} {drug.display}".strip()[:60]
            drugs = ", ".join(drug.drugs) or "-"
            out.write(f"  {label:<60} {drug.read_by:<9} {drugs}\n")
        out.write("\n")
    _print_problems(reading, out)
    return 0


def _evaluate(args: argparse.Namespace, out: TextIO) -> int:
    rulebase = _rulebase(args)
    result = rulebase.evaluate(_evaluate_input(args, out), informative_tests=True)
    form = "json" if args.json else args.format
    if form == "json":
        out.write(result.model_dump_json(indent=2) + "\n")
    elif form == "markdown":
        out.write(result.to_markdown())
    else:
        out.write(str(result))
    return 0


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    rulebase = _rulebase(args)
    profile = _evaluate_input(args, out)
    explanation = rulebase.explain(rulebase.evaluate(profile), args.subject)
    out.write((explanation.model_dump_json(indent=2) if args.json else explanation.text) + "\n")
    return 0


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    path = args.result
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot be read: {error}") from error
    try:
        result = EvaluationReport.model_validate_json(text)
    except ValidationError as error:
        raise UserError(f"{path}: not a stored result (evaluate --json): {error}") from error
    verdict = _rulebase(args).verify(result)
    out.write(f"{verdict}\n")
    return 0 if verdict.verified else EXIT_INVALID


def _lint(args: argparse.Namespace, out: TextIO) -> int:
    directory = Path(args.rules_dir) if args.rules_dir else bundled_rules_dir()
    # RulebaseError lists every problem, excerpts not found in the source texts among them.
    rulebase = Rulebase.load(directory, sources_dir=args.sources)
    rules = len(rulebase.rules)
    if args.sources:
        # Excerpts are written once, in the statement inventory; rules cite its ids.
        excerpts = len(rulebase.coverage)
        out.write(
            f"{directory}: {rules} rules, no problems; {excerpts} statement excerpts checked "
            f"word for word against the source texts in {args.sources}\n"
        )
    else:
        out.write(
            f"{directory}: {rules} rules, no problems; excerpts not checked against the source "
            "texts (give --sources DIR)\n"
        )
    return 0


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    out.write(json.dumps(json_schema(args.which), indent=2) + "\n")
    return 0


def _coverage(args: argparse.Namespace, out: TextIO) -> int:
    from mbc_rules.docs import coverage_markdown

    out.write(coverage_markdown(_rulebase(args)))
    return 0


def _sources(args: argparse.Namespace, out: TextIO) -> int:
    rulebase = _rulebase(args)
    for source in rulebase.sources.values():
        cited = sum(1 for r in rulebase.rules for c in r.citations if c.source == source.id)
        dates = ", ".join(f"{k} {v}" for k, v in source.dates.items()) or "no dates given"
        out.write(
            f"{source.id:<6} {source.publisher}: {source.title} ({dates}); {cited} citations\n"
        )
    return 0


def version_text() -> str:
    """The package version, and the version and content hash of the bundled rules."""
    rulebase = Rulebase.bundled()
    return (
        f"mbc-rules {__version__}; rules {rulebase.version} "
        f"(content sha256 {rulebase.content_hash}); engine {rulebase.engine}"
    )


class _ShowVersionError(Exception):
    """Raised by ``--version`` so that ``main`` prints to its own output stream."""


class _VersionAction(argparse.Action):
    # argparse's own version action wants the text when the parser is built; loading the
    # rules for it would slow every command down.
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        raise _ShowVersionError


def _fhir_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--patient", help="FHIR input: the Patient id to read, when it holds several"
    )
    parser.add_argument(
        "--conflicts",
        choices=["report", "latest"],
        default="report",
        help="FHIR input: disagreeing resources leave a field unknown (report), or the latest wins",
    )


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from mbc_rules.service.app import ServiceConfig, serve, trusted_issuers
        from mbc_rules.service.auth import KeyFileError
    except ImportError as error:
        raise UserError(
            f"serve needs the service extra (pip install 'mbc-rules[service]'): {error}"
        ) from None
    if args.rules and args.local:
        raise UserError("--local goes over the bundled rules, not over --rules")
    rulebase = Rulebase.load(args.rules, engine=args.engine) if args.rules else None
    if args.local:
        rulebase = Rulebase.bundled(args.engine).with_local(args.local)
    try:
        verifier = trusted_issuers(args.trust)
    except KeyFileError as error:
        raise UserError(f"--trust {error}") from None
    config = ServiceConfig(
        rulebase=rulebase or Rulebase.bundled(args.engine),
        verifier=verifier,
        public_url=args.public_url,
        fhir_timeout=args.fhir_timeout,
        fhir_servers=tuple(args.fhir_server),
        cors_origins=tuple(args.cors_origin),
    )
    if verifier is None:
        out.write("mbc-rules serve: no --trust issuer given: bearer tokens are not checked\n")
    out.write(
        f"mbc-rules serve: {config.rulebase!r} on http://{args.host}:{args.port}/cds-services\n"
    )
    out.flush()
    serve(config, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _cohort_path(path: str) -> str:
    if not Path(path).is_file():
        raise UserError(f"cannot read {path}: no such file")
    return path


def _concordance(args: argparse.Namespace, out: TextIO) -> int:
    from mbc_rules.cohort.concordance import concordance

    paths: list[str] = args.cohort
    fhir = (
        args.fhir
        or len(paths) > 1
        or any(Path(p).is_dir() or p.lower().endswith(".json") for p in paths)
    )
    for path in paths:
        if not Path(path).exists():
            raise UserError(f"cannot read {path}: no such file or folder")
    cohort: object = list(paths) if fhir else _cohort_path(paths[0])
    result = concordance(cohort, given=args.given, rulebase=_rulebase(args), verify=args.verify)
    text = result.markdown()
    if args.output:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        result.patients.to_csv(folder / "concordance.csv", index=False)
        result.summary().to_csv(folder / "concordance_summary.csv", index=False)
        (folder / "concordance.md").write_text(text, encoding="utf-8")
        written = "concordance_summary.csv and concordance.md"
        if result.records is not None:
            result.records.to_csv(folder / "concordance_records.csv", index=False)
            written = "concordance_summary.csv, concordance_records.csv and concordance.md"
        out.write(f"wrote {len(result.patients)} patients to {folder}/concordance.csv, {written}\n")
    else:
        out.write(text)
    return 0


def _diff(args: argparse.Namespace, out: TextIO) -> int:
    from mbc_rules.cohort.diff import diff

    old = Rulebase.load(args.old) if args.old != "bundled" else Rulebase.bundled()
    new = Rulebase.load(args.new) if args.new != "bundled" else Rulebase.bundled()
    if args.local:
        if args.new != "bundled":
            raise UserError("--local goes over the bundled rules: give NEW_RULES as 'bundled'")
        new = new.with_local(args.local)
    result = diff(old, new, _cohort_path(args.cohort), verify=args.verify)
    text = result.markdown()
    if args.output:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        result.changes.to_csv(folder / "diff_changes.csv", index=False)
        result.rules.to_csv(folder / "diff_rules.csv", index=False)
        result.by_kind().to_csv(folder / "diff_by_kind.csv", index=False)
        (folder / "diff.md").write_text(text, encoding="utf-8")
        out.write(
            f"wrote {len(result.changes)} changes to {folder}/diff_changes.csv, "
            "diff_rules.csv, diff_by_kind.csv and diff.md\n"
        )
    else:
        out.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mbc-rules``."""
    parser = argparse.ArgumentParser(
        prog="mbc-rules",
        description="Cited treatment options for metastatic breast cancer, from five sources. "
        "Decision support, not medical advice.",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the package version, the rule content version and its hash, and exit",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("evaluate", help="evaluate a profile (YAML or JSON file, or -)")
    evaluate.add_argument("profile", help="profile file, or - for standard input")
    evaluate.add_argument(
        "--json", action="store_true", help="print the full result as JSON (--format json)"
    )
    evaluate.add_argument(
        "--format",
        choices=["table", "json", "markdown"],
        default="table",
        help="table (the default), json (the result with its informative tests), or markdown "
        "(a report to paste)",
    )
    evaluate.add_argument("--rules", help="a rule directory instead of the bundled rules")
    evaluate.add_argument(
        "--local", help="a folder of local rules over the bundled ones (Rulebase.with_local)"
    )
    _fhir_options(evaluate)
    evaluate.set_defaults(run=_evaluate)

    read = commands.add_parser(
        "read", help="read a FHIR R4 / mCODE bundle: the profile and where each field came from"
    )
    read.add_argument("record", help="a FHIR Bundle or a JSON array of resources")
    read.add_argument("--json", action="store_true", help="print the reading as JSON")
    read.add_argument("--rules", help="a rule directory whose drug vocabulary to use")
    _fhir_options(read)
    read.set_defaults(run=_read)

    explain = commands.add_parser("explain", help="why a category or drug is (not) offered")
    explain.add_argument("profile", help="profile file or FHIR Bundle, or - for standard input")
    explain.add_argument("subject", help="a category, or a drug or procedure by any name")
    explain.add_argument("--json", action="store_true", help="print the structured form")
    explain.add_argument("--rules", help="a rule directory instead of the bundled rules")
    explain.add_argument(
        "--local", help="a folder of local rules over the bundled ones (Rulebase.with_local)"
    )
    _fhir_options(explain)
    explain.set_defaults(run=_explain)

    verify = commands.add_parser(
        "verify", help="check a stored result (evaluate --json) against the rules: digest, answer"
    )
    verify.add_argument("result", help="result JSON file, or - for standard input")
    verify.add_argument("--rules", help="a rule directory instead of the bundled rules")
    verify.set_defaults(run=_verify)

    lint = commands.add_parser("lint", help="load a rule directory and report every problem")
    lint.add_argument("rules_dir", nargs="?", help="defaults to the bundled rules")
    lint.add_argument(
        "--sources", help="folder of the source texts: check every excerpt word for word"
    )
    lint.set_defaults(run=_lint)

    schema = commands.add_parser("schema", help="print the JSON Schema of the profile or result")
    schema.add_argument(
        "which",
        choices=["profile", "result", "report"],
        help="report: the result with its informative tests, as evaluate --json prints it",
    )
    schema.set_defaults(run=_schema)

    coverage = commands.add_parser("coverage", help="print the coverage of the sources (Markdown)")
    coverage.add_argument("--rules", help="a rule directory instead of the bundled rules")
    coverage.set_defaults(run=_coverage)

    sources = commands.add_parser("sources", help="list the source documents")
    sources.add_argument("--rules", help="a rule directory instead of the bundled rules")
    sources.set_defaults(run=_sources)

    agree = commands.add_parser(
        "concordance",
        help="was the treatment each patient of a cohort received next offered by the rules?",
    )
    agree.add_argument(
        "cohort",
        nargs="+",
        help="a Parquet file (profile fields and the given column), or FHIR R4 records: "
        ".json Bundles or folders of them (the treatment given next read from the medications)",
    )
    agree.add_argument(
        "--given", default="next_treatment", help="the column of the treatment given next"
    )
    agree.add_argument(
        "--fhir",
        action="store_true",
        help="read COHORT as FHIR records (the default for .json files and folders)",
    )
    agree.add_argument("--rules", help="a rule directory instead of the bundled rules")
    agree.add_argument(
        "--local", help="a folder of local rules over the bundled ones (Rulebase.with_local)"
    )
    agree.add_argument(
        "--output",
        help="a folder for concordance.csv (per patient), concordance_summary.csv and "
        "concordance.md; without it the Markdown report is printed",
    )
    agree.add_argument("--verify", type=int, default=200, help="rows checked in full (0: none)")
    agree.set_defaults(run=_concordance)

    change = commands.add_parser(
        "diff", help="which patients of a cohort get another answer from new rules, and why"
    )
    change.add_argument("old", help="the old rule directory ('bundled': the bundled rules)")
    change.add_argument("new", help="the new rule directory ('bundled': the bundled rules)")
    change.add_argument("cohort", help="a Parquet file of profiles")
    change.add_argument(
        "--local", help="a folder of local rules over the new (bundled) rules: what they change"
    )
    change.add_argument(
        "--output",
        help="a folder for diff_changes.csv, diff_rules.csv, diff_by_kind.csv and diff.md; "
        "without it the Markdown report is printed",
    )
    change.add_argument("--verify", type=int, default=200, help="rows checked in full (0: none)")
    change.set_defaults(run=_diff)

    serve = commands.add_parser("serve", help="run the CDS Hooks service (needs the service extra)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument("--rules", help="a rule directory instead of the bundled rules")
    serve.add_argument(
        "--local", help="a folder of local rules over the bundled ones (Rulebase.with_local)"
    )
    serve.add_argument(
        "--engine", choices=["auto", "durable", "python"], default="auto", help="rule engine"
    )
    serve.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="ISSUER=KEYFILE",
        help="check the EHR's bearer JWT: a trusted issuer and its public keys (JWKS or PEM "
        "file); repeat for more issuers",
    )
    serve.add_argument("--public-url", help="the base URL the EHR calls, for the token's aud claim")
    serve.add_argument(
        "--fhir-timeout",
        type=float,
        default=5.0,
        help="seconds allowed for reading each missing prefetch key from fhirServer",
    )
    serve.add_argument(
        "--fhir-server",
        action="append",
        default=[],
        metavar="URL_PREFIX",
        help="a FHIR server the service may read (repeat); by default any",
    )
    serve.add_argument(
        "--cors-origin", action="append", default=[], help="a browser origin allowed to call"
    )
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    serve.set_defaults(run=_serve)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except _ShowVersionError:
        out.write(version_text() + "\n")
        return 0
    try:
        status: int = args.run(args, out)
    except UserError as error:
        err.write(f"mbc-rules: {error}\n")
        return EXIT_INVALID
    except ValidationError as error:
        for line in describe_validation_error(error):
            err.write(f"mbc-rules: invalid profile: {line}\n")
        return EXIT_INVALID
    except BrokenPipeError:
        # The reader (``| head``) stopped early; that is not an error of ours.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps interpreter exit quiet
        return 0
    except RulebaseError as error:
        err.write(f"mbc-rules: {error}\n")
        return EXIT_INVALID
    except MbcRulesError as error:
        err.write(f"mbc-rules: {error}\n")
        return EXIT_INVALID
    return status
