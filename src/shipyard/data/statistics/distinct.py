"""Feeding the HyperLogLog sketch only the values that can change it.

The sketch has no bulk update, and a Python call per value costs more than everything
else the statistics do.  Yet almost every value is a no-op: once the sketch has left its
exact list/set modes, a value changes it only when its register value exceeds the largest
one seen so far in its slot.  Hashing the values here exactly as the sketch does
(MurmurHash3 x64/128 with seed 9001 over the 8 bytes of the double, -0.0 and NaN made
canonical first) tells which values those are, with numpy, so the sketch is fed a few
percent of them, in their original order: its state, the HIP estimate included, ends
byte for byte the same as if it had been fed every value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from shipyard.data.statistics.sketches import FloatArray

__all__ = ["may_change_sketch"]

_C1 = np.uint64(0x87C37B91114253D5)
_C2 = np.uint64(0x4CF5AD432745937F)
_F1 = np.uint64(0xFF51AFD7ED558CCD)
_F2 = np.uint64(0xC4CEB9FE1A85EC53)
# The sketch's seed xor the key length (8 bytes): both halves of the hash start from it.
_SEED_XOR_LENGTH = np.uint64(9001 ^ 8)
_CANONICAL_NAN = np.uint64(0x7FF8000000000000)
_ADDRESS_BITS = 26  # the list and set modes key coupons by 26 bits of the hash
_MAX_VALUE = 62
_BLOCK = 1 << 15


def may_change_sketch(values: FloatArray, lg_k: int) -> npt.NDArray[np.bool_] | None:
    """Which of ``values`` could change a fresh ``hll_sketch(lg_k)`` fed them in order.

    Every value left out leaves the sketch as it is, whatever came before it.  None when
    filtering would not pay or the sketch might still be in an exact mode afterwards.
    """
    slots = 1 << lg_k
    # The first `slots` values are all kept, and within them the sketch must have left its
    # exact modes: it does by the time it holds slots / 2 + 1 distinct coupons (before
    # its coupon list or set would outgrow the HLL array, which never happens later).
    head = slots
    if values.size <= 2 * head:
        return None
    address, value = _coupons(values)
    head_coupons = (address[:head].astype(np.int64) << 6) | value[:head]
    if np.unique(head_coupons).size <= slots // 2:
        return None
    slot = (address & np.uint32(slots - 1)).astype(np.intp)
    keep = np.zeros(values.size, dtype=np.bool_)
    keep[:head] = True
    registers = np.zeros(slots, dtype=np.int8)
    np.maximum.at(registers, slot[:head], value[:head])
    # Blocks double in size, so each slot sees only a few new maxima per block; within a
    # block every value above the registers at its start is kept (a superset, harmless).
    start, size = head, head
    while start < values.size:
        stop = min(values.size, start + size)
        block_slots, block_values = slot[start:stop], value[start:stop]
        raised = block_values > registers[block_slots]
        keep[start:stop] = raised
        np.maximum.at(registers, block_slots[raised], block_values[raised])
        start, size = stop, 2 * size
    return keep


def _coupons(values: FloatArray) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int8]]:
    """The sketch's 26-bit address and register value (1..63) of each value."""
    address = np.empty(values.size, dtype=np.uint32)
    value = np.empty(values.size, dtype=np.int8)
    # Block by block, so that the dozen passes over the words stay in the cache.
    for start in range(0, values.size, _BLOCK):
        stop = min(values.size, start + _BLOCK)
        _block_coupons(values[start:stop], address[start:stop], value[start:stop])
    return address, value


def _block_coupons(
    values: FloatArray, address: npt.NDArray[np.uint32], value: npt.NDArray[np.int8]
) -> None:
    keys = np.asarray(values, dtype=np.float64) + 0.0  # a fresh copy; -0.0 becomes 0.0
    low = keys.view(np.uint64)
    nan = np.isnan(keys)
    if nan.any():
        low[nan] = _CANONICAL_NAN
    scratch = np.empty_like(low)
    low *= _C1
    np.right_shift(low, np.uint64(33), out=scratch)
    low <<= np.uint64(31)
    low |= scratch
    low *= _C2
    low ^= _SEED_XOR_LENGTH
    low += _SEED_XOR_LENGTH
    high = low + _SEED_XOR_LENGTH
    _mix(low, scratch)
    _mix(high, scratch)
    low += high
    high += low
    np.bitwise_and(low, np.uint64((1 << _ADDRESS_BITS) - 1), out=scratch)
    address[:] = scratch
    # Leading zeros of `high`: its top 53 bits convert to a double exactly, and the
    # double's exponent is their log2.
    np.right_shift(high, np.uint64(11), out=scratch)
    top = keys  # reused
    top[:] = scratch
    exponent = top.view(np.uint64) >> np.uint64(52)
    zeros = np.int16(1023 + 52) - exponent.astype(np.int16)
    tiny = top == 0.0  # high < 2**11: rare enough to count the slow way
    if tiny.any():
        zeros[tiny] = [64 - int(word).bit_length() for word in high[tiny]]
    np.minimum(zeros, _MAX_VALUE, out=zeros)
    zeros += 1
    value[:] = zeros


def _mix(word: npt.NDArray[np.uint64], scratch: npt.NDArray[np.uint64]) -> None:
    np.right_shift(word, np.uint64(33), out=scratch)
    word ^= scratch
    word *= _F1
    np.right_shift(word, np.uint64(33), out=scratch)
    word ^= scratch
    word *= _F2
    np.right_shift(word, np.uint64(33), out=scratch)
    word ^= scratch
