"""Unit tests of the canonical encoding and the config key (pytest_memento.hashing)."""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import http
import json
import math
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any, ClassVar, NamedTuple

import pytest

from pytest_memento.hashing import (
    KEY_SCHEME,
    UnstableValueError,
    config_key,
    encode,
    encode_config,
    jsonable,
    qualified_name,
)

# -- module-level helpers (they have a stable module.qualname) --------------


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass
class OtherPoint:
    x: int
    y: int


class Pair(NamedTuple):
    left: int
    right: int


class Model:
    """A plain class used as a config value."""

    def fit(self) -> None:
        """A method."""


class Outer:
    class Inner:
        pass


def train(a: int = 0, b: int = 0) -> int:
    return a + b


def evaluate(a: int = 0, b: int = 0) -> int:
    return a - b


class Keyed:
    """An object that states its own identity."""

    def __init__(self, name: str, secret: object = None) -> None:
        self.name = name
        self.secret = secret  # not part of the identity

    def __memento_key__(self) -> Any:
        return {"name": self.name}


class Estimator:
    """scikit-learn style: identity is the class plus get_params()."""

    def __init__(self, alpha: float = 1.0, kernel: str = "rbf") -> None:
        self.alpha = alpha
        self.kernel = kernel
        self.fitted_: object = object()  # learned state, not part of the identity

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"alpha": self.alpha, "kernel": self.kernel}


class OtherEstimator(Estimator):
    pass


class RecordingEstimator(Estimator):
    calls: ClassVar[list[bool]] = []

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        self.calls.append(deep)
        return super().get_params(deep)


def key_of(**values: Any) -> str:
    """Key of a config with the given parameter values."""
    return config_key("exp.py::f", encode_config({name: encode(value) for name, value in values.items()}))


@pytest.fixture
def np() -> Any:
    return pytest.importorskip("numpy")


# -- scalars ------------------------------------------------------------------


def test_int_float_and_bool_differ() -> None:
    encodings = {encode(1), encode(1.0), encode(True)}
    assert len(encodings) == 3
    assert encode(0) != encode(False)
    assert encode(0) != encode(0.0)
    assert key_of(a=1) != key_of(a=1.0) != key_of(a=True)
    assert key_of(a=1) != key_of(a=True)


@pytest.mark.parametrize(
    "value",
    [0, -7, 2**100, 0.1, -0.0, float("inf"), float("-inf"), "", "héllo", "1", b"", b"\x00\xff", None, True, False],
)
def test_scalars_encode_deterministically(value: Any) -> None:
    assert encode(value) == encode(value)
    assert isinstance(encode(value), bytes)


def test_distinct_scalars_have_distinct_encodings() -> None:
    values = [0, 1, -1, 0.0, 1.0, 0.5, "", "0", "1", b"", b"1", None, True, False, (), []]
    assert len({encode(value) for value in values}) == len(values)


def test_str_and_bytes_differ() -> None:
    assert encode("ab") != encode(b"ab")


def test_nan_is_stable() -> None:
    assert encode(float("nan")) == encode(float("nan"))
    assert encode(float("nan")) != encode(float("inf"))


def test_int_and_str_subclasses_encode_as_their_base() -> None:
    class MyInt(int):
        pass

    class MyStr(str):
        __slots__ = ()

    assert encode(MyInt(3)) == encode(3)
    assert encode(MyStr("a")) == encode("a")


def test_encoding_is_self_delimiting() -> None:
    # Concatenation must not make different structures collide.
    assert encode(["ab", "c"]) != encode(["a", "bc"])
    assert encode(("a", "b")) != encode(("ab",))
    assert encode({"a": "bc"}) != encode({"ab": "c"})


# -- containers ---------------------------------------------------------------


def test_dict_order_does_not_matter() -> None:
    first = {"a": 1, "b": [1, 2], "c": {"x": None, "y": 2.5}}
    second = {"c": {"y": 2.5, "x": None}, "b": [1, 2], "a": 1}
    assert encode(first) == encode(second)
    assert key_of(opts=first) == key_of(opts=second)


def test_dict_with_mixed_key_types_is_stable() -> None:
    assert encode({1: "a", "1": "b", None: "c"}) == encode({None: "c", "1": "b", 1: "a"})


def test_set_and_frozenset_order_does_not_matter() -> None:
    words = [f"word{i}" for i in range(50)]
    assert encode(set(words)) == encode(set(reversed(words)))
    assert encode(frozenset(words)) == encode(frozenset(reversed(words)))
    assert encode({1, "a", 2.5, None}) == encode({None, 2.5, "a", 1})
    assert encode({3, 1, 2}) != encode({1, 2})


def test_nested_sets_are_stable() -> None:
    assert encode({frozenset({"a", "b"}), frozenset({"c"})}) == encode({frozenset({"c"}), frozenset({"b", "a"})})


def test_set_key_is_identical_across_hash_seeds(tmp_path: pathlib.Path) -> None:
    """A key computed from a set of strings must not depend on PYTHONHASHSEED."""
    code = textwrap.dedent(
        """
        import json
        from pytest_memento.hashing import config_key, encode, encode_config
        words = {f"w{i}" for i in range(64)}
        key = config_key("exp.py::f", encode_config({"tags": encode(words), "more": encode({"s": frozenset(words)})}))
        print(json.dumps({"key": key, "order": list(words)}))
        """
    )
    results = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        completed = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=tmp_path
        )
        results.append(json.loads(completed.stdout))
    # The test has teeth: the two processes iterate the set in different orders.
    assert results[0]["order"] != results[1]["order"]
    words = {f"w{i}" for i in range(64)}
    here = config_key("exp.py::f", encode_config({"tags": encode(words), "more": encode({"s": frozenset(words)})}))
    assert results[0]["key"] == results[1]["key"] == here


def test_list_and_tuple_differ() -> None:
    assert encode([1, 2]) != encode((1, 2))
    assert encode([]) != encode(())
    assert encode([1, 2]) != encode([2, 1])


def test_set_and_list_differ() -> None:
    assert encode({1}) != encode([1])
    assert encode(frozenset({1})) == encode({1})


def test_range_encodes_by_start_stop_step() -> None:
    assert encode(range(3)) == encode(range(0, 3, 1))
    assert encode(range(3)) != encode(range(1, 3))
    assert encode(range(3)) != encode([0, 1, 2])


def test_mapping_subclasses_encode_like_dicts() -> None:
    assert encode(collections.OrderedDict([("b", 1), ("a", 2)])) == encode({"a": 2, "b": 1})


def test_unstable_value_inside_a_container_names_its_path() -> None:
    with pytest.raises(UnstableValueError, match=r"\['opts'\]\[1\]") as info:
        encode({"opts": [1, object()]})
    assert info.value.path == "['opts'][1]"


# -- classes, functions, methods ---------------------------------------------


def test_classes_and_functions_encode_by_qualified_name() -> None:
    assert qualified_name(Model) == f"{__name__}.Model"
    assert qualified_name(train) == f"{__name__}.train"
    assert qualified_name(Outer.Inner) == f"{__name__}.Outer.Inner"
    assert qualified_name(Model.fit) == f"{__name__}.Model.fit"
    assert qualified_name(len) == "builtins.len"
    assert qualified_name(math.sqrt) == "math.sqrt"
    assert f"{__name__}.Model".encode() in encode(Model)
    assert encode(train) != encode(evaluate)
    assert encode(Model) != encode(Outer.Inner)
    assert encode(len) == encode(len)


def test_class_encoding_does_not_depend_on_the_object() -> None:
    # Same name, same encoding (it is what another process can find again).
    assert encode(collections.OrderedDict) == encode(collections.OrderedDict)
    assert encode(collections.OrderedDict) != encode(dict)


def test_qualified_name_of_things_without_one() -> None:
    assert qualified_name(42) is None
    assert qualified_name(lambda: 0) is None

    def local() -> None:
        pass

    assert qualified_name(local) is None


def test_lambda_is_unstable() -> None:
    with pytest.raises(UnstableValueError, match="lambda"):
        encode(lambda x: x)


def test_local_function_and_class_are_unstable() -> None:
    def local_function() -> None:
        pass

    class LocalClass:
        pass

    with pytest.raises(UnstableValueError, match="local_function"):
        encode(local_function)
    with pytest.raises(UnstableValueError, match="locals"):
        encode(LocalClass)
    with pytest.raises(UnstableValueError):
        encode(LocalClass())


def test_unstable_value_error_is_a_type_error_with_details() -> None:
    value = object()
    with pytest.raises(UnstableValueError) as info:
        encode(value)
    assert isinstance(info.value, TypeError)
    assert info.value.value is value
    assert "no stable identity" in str(info.value)
    assert "object" in info.value.describe()


def test_unstable_value_error_shortens_long_reprs() -> None:
    class Noisy:
        def __repr__(self) -> str:
            return "x" * 500

    message = UnstableValueError(Noisy(), "here").describe()
    assert "..." in message
    assert "at here" in message
    assert len(message) < 200


def test_plain_object_is_unstable() -> None:
    with pytest.raises(UnstableValueError):
        encode(object())
    with pytest.raises(UnstableValueError):
        encode(Model())


def test_bound_methods_encode_function_and_instance() -> None:
    assert encode(Keyed("a").__memento_key__) == encode(Keyed("a").__memento_key__)
    assert encode(Keyed("a").__memento_key__) != encode(Keyed("b").__memento_key__)
    with pytest.raises(UnstableValueError):
        encode(Model().fit)  # bound to an object without identity


def test_functools_partial() -> None:
    assert encode(functools.partial(train, 1, b=2)) == encode(functools.partial(train, 1, b=2))
    assert encode(functools.partial(train, 1)) != encode(functools.partial(train, 2))
    assert encode(functools.partial(train, 1)) != encode(functools.partial(evaluate, 1))
    assert encode(functools.partial(train, 1)) != encode(functools.partial(train, a=1))
    assert encode(functools.partial(train, a=1, b=2)) == encode(functools.partial(train, b=2, a=1))
    with pytest.raises(UnstableValueError):
        encode(functools.partial(lambda a: a, 1))


# -- structured values -------------------------------------------------------


def test_enum_members() -> None:
    assert encode(Color.RED) == encode(Color.RED)
    assert encode(Color.RED) != encode(Color.GREEN)
    assert encode(Color.RED) != encode(Shade.RED)  # same name and value, other class
    assert encode(Color.RED) != encode(1)
    assert encode(Level.LOW) != encode(1)  # IntEnum is an enum first
    assert encode(http.HTTPStatus.OK) == b"e18:http.HTTPStatus.OK"


def test_local_enum_is_unstable() -> None:
    class LocalEnum(enum.Enum):
        A = 1

    with pytest.raises(UnstableValueError):
        encode(LocalEnum.A)


def test_dataclasses() -> None:
    assert encode(Point(1, 2)) == encode(Point(1, 2))
    assert encode(Point(1, 2)) != encode(Point(2, 1))
    assert encode(Point(1, 2)) != encode(OtherPoint(1, 2))
    assert encode(Point(1, 2)) != encode({"x": 1, "y": 2})
    assert encode(Point) != encode(Point(1, 2))
    with pytest.raises(UnstableValueError):
        encode(Point(1, object()))  # type: ignore[arg-type]


def test_namedtuples() -> None:
    assert encode(Pair(1, 2)) == encode(Pair(1, 2))
    assert encode(Pair(1, 2)) != encode(Pair(2, 1))
    assert encode(Pair(1, 2)) != encode((1, 2))

    class LocalPair(NamedTuple):
        left: int
        right: int

    with pytest.raises(UnstableValueError):
        encode(LocalPair(1, 2))


def test_paths_encode_as_posix_strings() -> None:
    assert encode(pathlib.PurePosixPath("data/train.csv")) == encode(pathlib.PureWindowsPath("data\\train.csv"))
    assert encode(pathlib.Path("data/train.csv")) == encode(pathlib.PurePosixPath("data/train.csv"))
    assert encode(pathlib.Path("data/train.csv")) != encode(pathlib.Path("data/test.csv"))
    assert encode(pathlib.Path("data/train.csv")) != encode("data/train.csv")


def test_memento_key_defines_identity() -> None:
    assert encode(Keyed("a", secret=object())) == encode(Keyed("a", secret=object()))
    assert encode(Keyed("a")) != encode(Keyed("b"))
    assert encode(Keyed("a")) != encode({"name": "a"})


def test_memento_key_returning_unstable_value_raises() -> None:
    class Bad(Keyed):
        def __memento_key__(self) -> Any:
            return object()

    # A local class has no stable name, so it is unstable whatever its key says.
    with pytest.raises(UnstableValueError):
        encode(Bad("a"))


def test_get_params_objects() -> None:
    assert encode(Estimator()) == encode(Estimator())
    assert encode(Estimator(alpha=1.0)) != encode(Estimator(alpha=2.0))
    assert encode(Estimator(kernel="rbf")) != encode(Estimator(kernel="linear"))
    assert encode(Estimator()) != encode(OtherEstimator())
    assert encode(Estimator()) != encode(Estimator)
    assert encode([Estimator(), Estimator(alpha=0.5)]) == encode([Estimator(), Estimator(alpha=0.5)])


def test_get_params_is_called_shallow() -> None:
    RecordingEstimator.calls.clear()
    encode(RecordingEstimator())
    assert RecordingEstimator.calls == [False]


def test_get_params_with_unstable_parameter_raises() -> None:
    with pytest.raises(UnstableValueError):
        encode(Estimator(alpha=object()))  # type: ignore[arg-type]


# -- numpy ---------------------------------------------------------------------


def test_numpy_scalar_dtypes_differ(np: Any) -> None:
    assert encode(np.float32(1)) != encode(np.float64(1))
    assert encode(np.int32(1)) != encode(np.int64(1))
    assert encode(np.float32(1)) == encode(np.float32(1))
    assert encode(np.float32(1)) != encode(np.float32(2))
    assert encode(np.int64(1)) != encode(np.float64(1))


def test_numpy_arrays_by_dtype_shape_and_content(np: Any) -> None:
    base = np.arange(4, dtype=np.int64)
    assert encode(base) == encode(np.array([0, 1, 2, 3], dtype=np.int64))
    assert encode(base.reshape(2, 2)) != encode(base)
    assert encode(base.reshape(2, 2)) != encode(base.reshape(4, 1))
    assert encode(base.astype(np.int32)) != encode(base)
    assert encode(base.astype(np.float64)) != encode(base)
    assert encode(np.array([0, 1, 2, 4])) != encode(np.array([0, 1, 2, 3]))
    assert encode(base) != encode([0, 1, 2, 3])


def test_numpy_array_layout_does_not_matter(np: Any) -> None:
    matrix = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert encode(np.asfortranarray(matrix)) == encode(matrix)
    assert encode(matrix.T.copy()) == encode(matrix.T)  # a non-contiguous view


def test_numpy_object_arrays(np: Any) -> None:
    values = np.array(["a", 1, None], dtype=object)
    assert encode(values) == encode(np.array(["a", 1, None], dtype=object))
    assert encode(values) != encode(np.array(["a", 2, None], dtype=object))
    with pytest.raises(UnstableValueError):
        encode(np.array([object()], dtype=object))


def test_numpy_structured_dtypes_differ(np: Any) -> None:
    ints = np.zeros(2, dtype=[("a", "<i4"), ("b", "<i4")])
    floats = np.zeros(2, dtype=[("x", "<f4"), ("y", "<f4")])
    assert encode(ints) != encode(floats)


# -- encode_config and config_key ---------------------------------------------


def test_encode_config_does_not_depend_on_name_order() -> None:
    first = encode_config({"a": encode(1), "b": encode(2)})
    second = encode_config({"b": encode(2), "a": encode(1)})
    assert first == second
    assert encode_config({"a": encode(1), "b": encode(2)}) != encode_config({"a": encode(2), "b": encode(1)})


def test_encode_config_matches_encoding_of_the_dict() -> None:
    values = {"seed": 3, "lr": 0.1, "name": "svc"}
    assert encode_config({name: encode(value) for name, value in values.items()}) == encode(values)


def test_config_key_is_a_sha256_hex_digest() -> None:
    key = config_key("exp.py::f", encode_config({"a": encode(1)}))
    assert len(key) == 64
    assert set(key) <= set("0123456789abcdef")
    assert KEY_SCHEME.startswith(b"pytest-memento/key/")


def test_config_key_depends_on_experiment_config_and_version() -> None:
    config = encode_config({"a": encode(1)})
    key = config_key("exp.py::f", config)
    assert key == config_key("exp.py::f", config, 0)
    assert key != config_key("exp.py::g", config)
    assert key != config_key("other.py::f", config)
    assert key != config_key("exp.py::f", encode_config({"a": encode(2)}))
    assert key != config_key("exp.py::f", config, 1)
    assert config_key("exp.py::f", config, 1) != config_key("exp.py::f", config, "1")
    assert key != config_key("exp.py::f", encode_config({}))


def test_config_key_rejects_unstable_version() -> None:
    with pytest.raises(UnstableValueError):
        config_key("exp.py::f", encode_config({}), object())


# GOLDEN KEYS. These digests were computed once and are hard-coded on purpose.
# If this test fails, the encoding changed: every key every user has stored
# changes with it, so every stored result is invalidated (everything reruns).
# Only change these together with a deliberate bump of KEY_SCHEME.
GOLDEN = [
    (
        "experiments/test_classifiers.py::test_classifier",
        lambda: {"seed": 0, "lr": 0.1, "model": "svc"},
        0,
        "6ded2616dc6896945b118015e529bef72edef29373af7ecb141b4bb36843af27",
    ),
    (
        "exp.py::f",
        lambda: {
            "data": pathlib.PurePosixPath("data/train.csv"),
            "layers": (64, 32),
            "opts": {"b": [1, 2.5, None], "a": True},
            "tags": frozenset({"x", "y"}),
        },
        "v2",
        "6bfb81937caedea7865daf872c761db496647ff80b0f94f55a255f2be8ecf4b2",
    ),
    (
        "exp.py::f",
        lambda: {
            "fn": math.sqrt,
            "cls": collections.OrderedDict,
            "status": http.HTTPStatus.OK,
            "blob": b"\x00\x01",
            "big": 2**70,
            "neg": -1.5e-300,
            "nan": float("nan"),
            "none": None,
            "r": range(0, 10, 2),
        },
        3,
        "bbb3801765edfd4b311d592c8f6f471bde25593b5a45197667ef7b53248e7f13",
    ),
]


@pytest.mark.parametrize(("experiment", "make_config", "version", "expected"), GOLDEN)
def test_golden_keys(experiment: str, make_config: Any, version: Any, expected: str) -> None:
    config = make_config()
    encoded = encode_config({name: encode(value) for name, value in config.items()})
    assert config_key(experiment, encoded, version) == expected


# -- jsonable ------------------------------------------------------------------


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


@pytest.mark.parametrize("value", [None, "s", 3, True, False, 2.5, [1, "a"], {"a": 1}])
def test_jsonable_keeps_plain_json(value: Any) -> None:
    assert jsonable(value) == value


def test_jsonable_non_finite_floats_become_strings() -> None:
    assert jsonable(float("nan")) == "nan"
    assert jsonable(float("inf")) == "inf"
    assert jsonable(float("-inf")) == "-inf"
    dumps(jsonable({"a": [float("nan"), float("inf")]}))


def test_jsonable_numpy_scalars_become_python_numbers(np: Any) -> None:
    for value, expected in [(np.int64(3), 3), (np.int8(-2), -2), (np.float32(0.5), 0.5), (np.float64(1.25), 1.25)]:
        result = jsonable(value)
        assert result == expected
        assert type(result) is type(expected)
    assert jsonable(np.bool_(True)) is True
    assert jsonable(np.float32("nan")) == "nan"
    assert jsonable(np.float64("inf")) == "inf"


def test_jsonable_numpy_arrays(np: Any) -> None:
    assert jsonable(np.arange(4)) == [0, 1, 2, 3]
    assert jsonable(np.array([[1.0, float("nan")], [2.0, 3.0]])) == [[1.0, "nan"], [2.0, 3.0]]
    summary = jsonable(np.zeros((100, 3), dtype=np.float32))
    assert isinstance(summary, str)
    assert "float32" in summary
    assert "100" in summary
    dumps(jsonable({"small": np.arange(3), "large": np.zeros(1000)}))


def test_jsonable_enums_paths_and_classes() -> None:
    assert jsonable(Color.RED) == "Color.RED"
    assert jsonable(Level.LOW) == "Level.LOW"
    assert jsonable(pathlib.PureWindowsPath("data\\x.csv")) == "data/x.csv"
    assert jsonable(pathlib.Path("a/b")) == "a/b"
    assert jsonable(Model) == f"{__name__}.Model"
    assert jsonable(train) == f"{__name__}.train"
    assert isinstance(jsonable(lambda: 0), str)


def test_jsonable_containers() -> None:
    assert jsonable((1, 2)) == [1, 2]
    assert jsonable(Pair(1, 2)) == [1, 2]
    assert jsonable({3, 1, 2}) == [1, 2, 3]
    assert jsonable({1: "a", Color.RED: "b"}) == {"1": "a", "Color.RED": "b"}
    assert jsonable(b"\x00\xff") == "00ff"
    assert jsonable(b"x" * 1000) == "<1000 bytes>"
    assert jsonable(Point(1, 2)) == {"__class__": "Point", "x": 1, "y": 2}


def test_jsonable_other_objects_become_short_reprs() -> None:
    class Long:
        def __repr__(self) -> str:
            return "L" * 1000

    assert jsonable(Long()) == "L" * 197 + "..."
    assert jsonable(complex(1, 2)) == "(1+2j)"


def test_jsonable_nested_structure_survives_strict_json(np: Any) -> None:
    value = {
        "metrics": {"acc": np.float32(0.9), "loss": float("nan"), "n": np.int64(10)},
        "config": {"path": pathlib.Path("x/y"), "color": Color.GREEN, "model": Estimator, "tags": {"b", "a"}},
        "history": [np.arange(3), (np.float64("-inf"), None)],
        (1, 2): Point(np.int32(1), np.int32(2)),
    }
    result = jsonable(value)
    text = dumps(result)
    assert json.loads(text) == result
    assert result["metrics"] == {"acc": pytest.approx(0.9), "loss": "nan", "n": 10}
    assert result["config"]["tags"] == ["a", "b"]
    assert result["history"] == [[0, 1, 2], ["-inf", None]]


def test_jsonable_deep_and_recursive_structures_terminate() -> None:
    deep: list[Any] = []
    cursor = deep
    for _ in range(100):
        cursor.append([])
        cursor = cursor[0]
    dumps(jsonable(deep))
    loop: list[Any] = []
    loop.append(loop)
    dumps(jsonable(loop))


# -- numpy subclasses keep their identity (issue 11) ---------------------------


def test_masked_arrays_that_differ_only_in_their_mask_differ() -> None:
    np = pytest.importorskip("numpy")
    first = np.ma.array([1, 2, 3], mask=[False, True, False])
    second = np.ma.array([1, 2, 3], mask=[False, False, False])
    assert encode(first) != encode(second)
    assert encode(second) != encode(np.array([1, 2, 3]))
    assert encode(first) == encode(np.ma.array([1, 2, 3], mask=[False, True, False]))
    # No mask and an all-False mask are the same array.
    assert encode(np.ma.array([1, 2, 3])) == encode(second)
    assert encode(np.ma.array([1.0], fill_value=0.0)) != encode(np.ma.array([1.0], fill_value=9.0))


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_np_matrix_differs_from_an_equal_ndarray() -> None:
    np = pytest.importorskip("numpy")
    assert encode(np.matrix([[1, 2], [3, 4]])) != encode(np.array([[1, 2], [3, 4]]))
    assert encode(np.matrix([[1, 2]])) == encode(np.matrix([[1, 2]]))
    # Plain arrays keep the encoding they always had (stored keys stay valid).
    plain = encode(np.array([1, 2], dtype="<i8"))
    assert plain == b"a8:<i8|(2,):16:" + np.array([1, 2], dtype="<i8").tobytes()
