"""`example_of`: plain example values of a tool's return annotation, for dry runs."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any, Literal, Optional

from pydantic import BaseModel
from typing_extensions import TypedDict

from agentflow.examples import example_of, return_example


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Invoice(TypedDict):
    id: str
    amount: float


class Customer(BaseModel):
    name: str
    invoices: list[Invoice]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Node(TypedDict):
    name: str
    children: list[Node]


def test_scalars_and_containers():
    assert [example_of(t) for t in (int, float, str, bool)] == [1, 1.0, "example", True]
    assert example_of(list[int]) == [1]
    assert example_of(dict[str, bool]) == {"key": True}
    assert example_of(tuple[int, str]) == [1, "example"]
    assert example_of(tuple[int, ...]) == [1]
    assert example_of(Optional[str]) == "example"  # noqa: UP045
    assert example_of(int | None) == 1
    assert example_of(Literal["a", "b"]) == "a"
    assert example_of(Colour) == "red"
    assert example_of(datetime.date) == "2026-01-01"


def test_unknowable_types_give_none():
    assert example_of(Any) is None
    assert example_of(None) is None
    assert example_of(object) is None


def test_records_become_dicts_of_their_fields():
    assert example_of(Invoice) == {"id": "example", "amount": 1.0}
    assert example_of(Customer) == {
        "name": "example",
        "invoices": [{"id": "example", "amount": 1.0}],
    }
    assert example_of(Point) == {"x": 1, "y": 1}


def test_recursive_types_stop():
    example = example_of(Node)
    depth = 0
    while example is not None and example.get("children"):
        example = example["children"][0]
        depth += 1
    assert depth < 10


def test_return_example_reads_the_annotation():
    def charge(amount: int) -> Invoice:
        raise AssertionError("never called")

    def untyped(amount):
        raise AssertionError("never called")

    def unresolvable() -> NoSuchType:  # type: ignore[name-defined]  # noqa: F821
        raise AssertionError("never called")

    assert return_example(charge) == {"id": "example", "amount": 1.0}
    assert return_example(untyped) is None
    assert return_example(unresolvable) is None
