"""Treatment histories read column-wise: each distinct entry validated once, not each cell.

A cohort whose every row has a history of its own has as many distinct ``prior_therapies``
cells as rows, but only a few hundred distinct entries (a drug, how it ended, the setting, the
line). So a cell that is a plain list of plain mappings is read entry by entry: each distinct
entry is validated once by :class:`~mbc_rules.profile.PriorTherapy`, as the profile validates
it, and a cell is the tuple of its entries' codes. What :class:`PatientProfile` checks of the
list as a whole is checked of that tuple: its length, and, when a drug is listed twice, the
whole cell by the profile itself. Any other cell (text, an array, a mapping with values of
other types, a missing cell) is handed to the caller's validation of whole cells, so that it
reads exactly as the row path reads it.

Each history gets a code, and its entries' codes are kept (``entries``, and flat in machine
words for :meth:`HistoryReader.entry_codes`): the columnar engine joins the entries' facts
(:func:`mbc_rules.facts.entry_facts`) per history with array operations.
"""

from __future__ import annotations

import typing
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mbc_rules.profile import MAX_PRIOR_THERAPIES, PriorTherapy

if TYPE_CHECKING:
    import numpy as np

    from mbc_rules.vocabulary import Vocabulary

_INVALID = -1  # an entry or a history that does not validate
_WHOLE = -2  # an entry to read with its cell as a whole (values of other types)
# The types an entry's values may have to be read on its own: with anything else (a bool
# where a number belongs, numpy text) the entry goes with its cell to the profile's own
# validation, which says what is wrong with it or reads it as the row path does.
_PLAIN_VALUES = frozenset({str, int, type(None)})

# What the caller's validation of a whole cell gives: its validated history (None: not
# given), or _INVALID.
CellValidation = Callable[[Any], "list[PriorTherapy] | int | None"]


class HistoryReader:
    """Codes for history cells, remembering every entry and every history it has read."""

    def __init__(self, vocabulary: Vocabulary, whole_cell: CellValidation) -> None:
        self.vocabulary = vocabulary
        self._context = {"vocabulary": vocabulary}
        self._whole_cell = whole_cell
        self._entry_code: dict[tuple[Any, ...], int] = {}
        self._text_entry_code: dict[tuple[Any, ...], int] = {}
        self._therapy_code: dict[PriorTherapy, int] = {}
        self.therapies: list[PriorTherapy] = []
        self._agent_code: list[int] = []  # by entry code, a number for its drug
        self._agents: dict[str, int] = {}
        self._history_code: dict[tuple[int, ...], int] = {}
        # By history code: the codes of its entries, and the profile's value (a tuple of
        # entries; None: not given), made when asked for.
        self.entries: list[tuple[int, ...]] = [()]
        # The same, flat: every history's entry codes one after another, and each one's length.
        self._flat = array("q")
        self._lengths = array("q", [0])
        self.values: Sequence[tuple[PriorTherapy, ...] | None] = HistoryValues(self)

    NOT_GIVEN = 0  # the code of a history that is not given

    def read(self, cells: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Each cell's history code, and whether it is invalid (its code is then NOT_GIVEN)."""
        import numpy as np

        codes = np.empty(len(cells), dtype=np.int64)
        bad = np.zeros(len(cells), dtype=bool)
        entry_code = self._entry_code
        text_code = self._text_entry_code
        history_code = self._history_code
        for index, cell in enumerate(cells):
            code = _WHOLE
            if type(cell) is list:
                found: list[int] = []
                for entry in cell:
                    if type(entry) is not dict:
                        break
                    items = tuple(entry.items())
                    try:
                        known = text_code.get(items)
                    except TypeError:  # an unhashable value (a list where text belongs)
                        break
                    if known is None:
                        key = (items, tuple(map(type, entry.values())))
                        known = entry_code.get(key)
                        if known is None:
                            known = self._read_entry(entry, key)
                    if known < 0:
                        break
                    found.append(known)
                else:
                    entries = tuple(found)
                    code = history_code.get(entries, _WHOLE)
                    if code == _WHOLE:
                        if len(entries) <= 1:  # nothing to repeat or contradict
                            code = self._new_history(entries)
                        else:
                            code = self._read_history(entries, cell)
                if code == _WHOLE and len(found) < len(cell):
                    # An entry stopped the reading: the cell is read as a whole.
                    code = self._whole(cell)
            else:
                code = self._whole(cell)
            if code == _INVALID:
                bad[index] = True
                code = self.NOT_GIVEN
            codes[index] = code
        return codes, bad

    def _read_entry(self, entry: dict[Any, Any], key: tuple[Any, ...]) -> int:
        if not _PLAIN_VALUES.issuperset(key[1]) or not all(type(k) is str for k in entry):
            code = _WHOLE
        else:
            try:
                therapy = PriorTherapy.model_validate(entry, context=self._context)
            except ValidationError:
                # Not _INVALID: the cell is validated as a whole, and its row then on its own,
                # so that pydantic names what is wrong with it, in its place.
                code = _WHOLE
            else:
                code = self._therapy(therapy)
        if len(self._entry_code) < 100_000:
            self._entry_code[key] = code
            if all(t is str for t in key[1]):
                # Only text can equal text: an entry of text values is found by its items
                # alone (True equals 1, so an entry with a number is found with its types).
                self._text_entry_code[key[0]] = code
        return code

    def _therapy(self, therapy: PriorTherapy) -> int:
        code = self._therapy_code.get(therapy)
        if code is None:
            code = self._therapy_code[therapy] = len(self.therapies)
            self.therapies.append(therapy)
            self._agent_code.append(self._agents.setdefault(therapy.agent, len(self._agents)))
        return code

    def _read_history(self, entries: tuple[int, ...], cell: list[Any]) -> int:
        if len(entries) > MAX_PRIOR_THERAPIES or (
            len({self._agent_code[e] for e in entries}) < len(entries)
        ):
            # Too long, or a drug listed twice (which may repeat or contradict an entry): the
            # profile's own check of the whole list says.
            return self._whole(cell)
        return self._new_history(entries)

    def _history(self, entries: tuple[int, ...]) -> int:
        code = self._history_code.get(entries)
        return self._new_history(entries) if code is None else code

    def entry_codes(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        """For the histories numbered from ``start`` on: each one's number of entries, and
        their entry codes one history after another.
        """
        import numpy as np

        lengths = np.frombuffer(self._lengths[start:], dtype=np.int64)
        begin = len(self._flat) - int(lengths.sum())
        return lengths, np.frombuffer(self._flat[begin:], dtype=np.int64)

    def _new_history(self, entries: tuple[int, ...]) -> int:
        code = len(self.entries)
        self.entries.append(entries)
        self._flat.extend(entries)
        self._lengths.append(len(entries))
        if len(self._history_code) < 2_000_000:
            self._history_code[entries] = code
        return code

    def _whole(self, cell: Any) -> int:
        validated = self._whole_cell(cell)
        if isinstance(validated, int):
            return _INVALID
        if validated is None:
            return self.NOT_GIVEN
        return self._history(tuple(self._therapy(t) for t in validated))


class HistoryValues(Sequence["tuple[PriorTherapy, ...] | None"]):
    """A reader's histories as the profile holds them, by history code (made when read)."""

    def __init__(self, reader: HistoryReader) -> None:
        self._reader = reader

    def __len__(self) -> int:
        return len(self._reader.entries)

    @typing.overload
    def __getitem__(self, index: int) -> tuple[PriorTherapy, ...] | None: ...
    @typing.overload
    def __getitem__(self, index: slice) -> list[tuple[PriorTherapy, ...] | None]: ...
    def __getitem__(
        self, index: int | slice
    ) -> tuple[PriorTherapy, ...] | list[tuple[PriorTherapy, ...] | None] | None:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index == HistoryReader.NOT_GIVEN:
            return None
        therapies = self._reader.therapies
        return tuple(therapies[e] for e in self._reader.entries[index])
