"""Arrow input (``mbc-rules[pyarrow]``): Arrow tables, Parquet files, Arrow-backed pandas columns.

A table becomes a pandas frame of Arrow-backed columns without copying, and each column is
factorised by Arrow's own kernels: ``dictionary_encode`` for values, and for a list of text the
list's length with its items joined (no valid list can share that key with another list:
separators inside an item make the item invalid, and the row is then checked on its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mbc_rules.cohort.codes import EncodedColumn, first_rows

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_SEPARATOR = "\x1f"


def arrow_to_frame(data: Any) -> pd.DataFrame:
    """A pandas frame over an Arrow Table or RecordBatch, its columns Arrow-backed."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    frame: pd.DataFrame = data.to_pandas(types_mapper=pd.ArrowDtype)
    return frame


def encode_arrow(field: str, series: pd.Series, *, structured: bool) -> EncodedColumn | None:
    """Codes and distinct cells of an Arrow-backed column (None: read its cells in Python)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(series.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        if not structured and pa.types.is_string(kind.value_type):
            joined = pc.binary_join(array, _SEPARATOR)
            lengths = pc.cast(pc.list_value_length(array), pa.string())
            key = pc.binary_join_element_wise(lengths, joined, ":")
        else:
            return None  # structured lists (prior therapies): read cell by cell
    else:
        key = array
    encoded = pc.dictionary_encode(key)
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    count = len(encoded.dictionary)
    first = first_rows(codes, count)
    cells = array.take(pa.array(first, type=pa.int64())).to_pylist()
    keys = [("arrow", str(kind), v) for v in encoded.dictionary.to_pylist()]
    return EncodedColumn(field, codes, cells, keys)


def text_sizes(series: pd.Series) -> tuple[np.ndarray, Any] | None:
    """The size in bytes of each cell of an Arrow-backed column of text, and its Arrow array
    (None: not text). A cell's size is at least its length in code points (Python's len); it
    is read from the array's offsets, without an Arrow kernel (whose first buffers grow the
    process by some 5 MB).
    """
    import numpy as np
    import pyarrow as pa

    array = pa.array(series.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    buffer = array.buffers()[1]
    if buffer is None:  # no cells
        return np.zeros(len(array), np.int64), array
    offsets = np.frombuffer(buffer, dtype=width)[array.offset : array.offset + len(array) + 1]
    return np.diff(offsets).astype(np.int64, copy=False), array
