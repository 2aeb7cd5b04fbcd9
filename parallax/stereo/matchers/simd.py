"""Explicit int16 SIMD vectors for the matchers' numba kernels.

LLVM's loop vectoriser handles the short label loops of semi-global matching
poorly: a loop over 48 labels runs one 32-wide vector step and 16 scalar ones,
and a loop holding several paths at once is not vectorised at all (too many
possible overlaps between its arrays). These intrinsics let a kernel say what
it means: a vector of ``lanes`` int16 values (an LLVM vector type: one 256-bit
register for 16 lanes on AVX2, two SSE registers on older x86, NEON on ARM),
loaded from and stored to flat numpy arrays at any element index, with
element-wise wrapping add/sub and signed min, a broadcast and a horizontal
minimum. Arithmetic is exact int16 arithmetic, so a kernel written with them
gives bit for bit what its scalar form gives, on any CPU.

Usage inside ``numba.njit`` code::

    v = vload(costs, i, vzero(16))   # 16 lanes from costs[i:i + 16] (uint8 widened)
    v = vmin(v, vsplat(40, v))
    vstore(out, j, v)                # out[j:j + 16] = v (int16 or uint16 array)
    smallest = vhmin(v)              # an int16

``vzero(lanes)`` takes a literal lane count and serves as the prototype that
``vload`` and ``vsplat`` copy their width from. Indices are not bounds-checked:
the caller keeps ``i .. i + lanes - 1`` inside the array.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, models, register_model

__all__ = [
    "I16Vector",
    "vadd",
    "vfirst_eq",
    "vhmin",
    "vhminu",
    "viota",
    "vlanes",
    "vload",
    "vmin",
    "vminu",
    "vpointer",
    "vselect_ltu",
    "vsplat",
    "vstore",
    "vsub",
    "vzero",
]

_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_ELEMENTS = (types.uint8, types.int16, types.uint16)
#: Lane counts a vector may have (powers of two, for the horizontal minimum's halvings).
_WIDTHS = (1, 2, 4, 8, 16, 32, 64)


class I16Vector(types.Type):
    """Numba type of ``lanes`` int16 values held as one LLVM vector."""

    def __init__(self, lanes: int) -> None:
        self.lanes = lanes
        super().__init__(name=f"I16Vector({lanes})")


@register_model(I16Vector)
class _I16VectorModel(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: I16Vector) -> None:
        super().__init__(dmm, fe_type, ir.VectorType(_I16, fe_type.lanes))


def _memory(ty: Any, dtypes: tuple[Any, ...]) -> bool:
    """Whether ``ty`` is an array or a raw pointer (:func:`vpointer`) of one of ``dtypes``."""
    return isinstance(ty, (types.Array, types.CPointer)) and ty.dtype in dtypes


def _element_pointer(context: Any, builder: Any, aryty: Any, ary: Any, idxty: Any, idx: Any, lanes: int) -> Any:
    """Pointer to ``lanes`` elements from flat index ``idx`` of an array or a raw pointer."""
    data = context.make_array(aryty)(context, builder, ary).data if isinstance(aryty, types.Array) else ary
    i = context.cast(builder, idx, idxty, types.intp)
    bits = aryty.dtype.bitwidth
    return builder.bitcast(builder.gep(data, [i]), ir.VectorType(ir.IntType(bits), lanes).as_pointer())


def _vpointer(typingctx: Any, arr: Any) -> Any:
    """The data pointer of a C-contiguous array, for helpers that take memory without the
    array's reference counting (a call per pixel that passes arrays costs more than its work).
    The caller keeps the array alive while the pointer is used."""
    if not (isinstance(arr, types.Array) and arr.layout == "C"):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return context.make_array(sig.args[0])(context, builder, args[0]).data

    return types.CPointer(arr.dtype)(arr), codegen


def _splat_constant(lanes: int, value: int | None) -> ir.Constant:
    return ir.Constant(ir.VectorType(_I16, lanes), None if value is None else [value] * lanes)


def _broadcast(context: Any, builder: Any, value: Any, valty: Any, lanes: int) -> Any:
    """The integer ``value`` (numba type ``valty``, cast to int16) in every lane."""
    s = context.cast(builder, value, valty, types.int16)
    one = builder.insert_element(_splat_constant(lanes, None), s, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(_I32, lanes), [0] * lanes))


def _vzero(typingctx: Any, lanes: Any) -> Any:
    """A vector of ``lanes`` zeros (a literal 1, 2, 4, ... or 64)."""
    if not isinstance(lanes, types.IntegerLiteral) or lanes.literal_value not in _WIDTHS:
        return None
    n = lanes.literal_value
    vt = I16Vector(n)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return _splat_constant(n, 0)

    return vt(lanes), codegen


def _vlanes(typingctx: Any, v: Any) -> Any:
    """The lane count of a vector (a compile-time constant)."""
    if not isinstance(v, I16Vector):
        return None
    n = v.lanes

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return context.get_constant(types.intp, n)

    return types.intp(v), codegen


def _vsplat(typingctx: Any, x: Any, like: Any) -> Any:
    """A vector as wide as ``like`` with the integer ``x`` (cast to int16) in every lane."""
    if not isinstance(x, types.Integer) or not isinstance(like, I16Vector):
        return None
    n = like.lanes

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return _broadcast(context, builder, args[0], sig.args[0], n)

    return like(x, like), codegen


def _vload(typingctx: Any, arr: Any, idx: Any, like: Any) -> Any:
    """``arr[idx : idx + lanes]`` of a flat uint8 (widened), int16 or uint16 array or pointer, as wide as ``like``."""
    if not (_memory(arr, _ELEMENTS) and isinstance(idx, types.Integer) and isinstance(like, I16Vector)):
        return None
    n = like.lanes

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1], n)
        v = builder.load(ptr, align=1)
        return builder.zext(v, ir.VectorType(_I16, n)) if sig.args[0].dtype == types.uint8 else v

    return like(arr, idx, like), codegen


def _vstore(typingctx: Any, arr: Any, idx: Any, v: Any) -> Any:
    """``arr[idx : idx + lanes] = v`` for a flat int16 or uint16 array or pointer (the same bits)."""
    if not (_memory(arr, _ELEMENTS[1:]) and isinstance(idx, types.Integer) and isinstance(v, I16Vector)):
        return None
    n = v.lanes

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1], n)
        builder.store(args[2], ptr, align=1)
        return context.get_dummy_value()

    return types.void(arr, idx, v), codegen


def _binary(name: str, op: Any) -> Any:
    def typer(typingctx: Any, a: Any, b: Any) -> Any:
        if not isinstance(a, I16Vector) or a != b:
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return op(builder, args[0], args[1])

        return a(a, b), codegen

    typer.__name__ = name
    typer.__doc__ = f"Lane-wise {name[1:]} of two vectors of one width (int16, wrapping)."
    return intrinsic(typer)


vadd = _binary("vadd", lambda b, x, y: b.add(x, y))
vsub = _binary("vsub", lambda b, x, y: b.sub(x, y))
vmin = _binary("vmin", lambda b, x, y: b.select(b.icmp_signed("<", x, y), x, y))
vminu = _binary("vminu", lambda b, x, y: b.select(b.icmp_unsigned("<", x, y), x, y))


def _vselect_ltu(typingctx: Any, a: Any, b: Any, x: Any, y: Any) -> Any:
    """Lane-wise ``x if a < b else y``, ``a`` and ``b`` compared as unsigned 16-bit integers."""
    if not (isinstance(a, I16Vector) and a == b == x == y):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.select(builder.icmp_unsigned("<", args[0], args[1]), args[2], args[3])

    return a(a, b, x, y), codegen


def _viota(typingctx: Any, like: Any) -> Any:
    """The lane numbers ``0, 1, ..., lanes - 1`` as a vector as wide as ``like``."""
    if not isinstance(like, I16Vector):
        return None
    n = like.lanes

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return ir.Constant(ir.VectorType(_I16, n), list(range(n)))

    return like(like), codegen


def _vfirst_eq(typingctx: Any, v: Any, x: Any) -> Any:
    """The first lane of ``v`` equal to the integer ``x`` (cast to 16 bits), or ``lanes`` if none is."""
    if not (isinstance(v, I16Vector) and isinstance(x, types.Integer)):
        return None
    n = v.lanes

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        splat = _broadcast(context, builder, args[1], sig.args[1], n)
        mask = builder.bitcast(builder.icmp_unsigned("==", args[0], splat), ir.IntType(n))
        fnty = ir.FunctionType(ir.IntType(n), [ir.IntType(n), ir.IntType(1)])
        cttz = builder.module.declare_intrinsic("llvm.cttz", [ir.IntType(n)], fnty)
        count = builder.call(cttz, [mask, ir.Constant(ir.IntType(1), 0)])
        return builder.zext(count, ir.IntType(64)) if n < 64 else count

    return types.intp(v, x), codegen


def _horizontal_min(name: str, signed: bool) -> Any:
    def typer(typingctx: Any, v: Any) -> Any:
        if not isinstance(v, I16Vector):
            return None
        n = v.lanes

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            x = args[0]
            step = n // 2
            while step >= 1:  # halving shuffles: log2(lanes) steps
                mask = ir.Constant(ir.VectorType(_I32, n), [(i + step) % n for i in range(n)])
                y = builder.shuffle_vector(x, x, mask)
                less = builder.icmp_signed("<", x, y) if signed else builder.icmp_unsigned("<", x, y)
                x = builder.select(less, x, y)
                step //= 2
            return builder.extract_element(x, ir.Constant(_I32, 0))

        return (types.int16 if signed else types.uint16)(v), codegen

    typer.__name__ = name
    typer.__doc__ = (
        f"The smallest lane of a vector, as {'an int16' if signed else 'a uint16 (lanes read as unsigned)'}."
    )
    return intrinsic(typer)


vhmin = _horizontal_min("vhmin", True)
vhminu = _horizontal_min("vhminu", False)


# numba intrinsics: called from compiled code only (typed Any for the checkers)
vpointer: Any = intrinsic(_vpointer)
vzero: Any = intrinsic(_vzero)
vlanes: Any = intrinsic(_vlanes)
vsplat: Any = intrinsic(_vsplat)
vload: Any = intrinsic(_vload)
vstore: Any = intrinsic(_vstore)
vselect_ltu: Any = intrinsic(_vselect_ltu)
viota: Any = intrinsic(_viota)
vfirst_eq: Any = intrinsic(_vfirst_eq)
