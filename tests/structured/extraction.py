"""The structured-extraction task run against the real local model: 30 short texts about a person,
each with the name, age and city it states (shared by tests/real_model and benchmarks)."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["CASES", "Person", "messages"]


class Person(BaseModel):
    name: str
    age: int
    city: str


_FACTS = [
    ("Alice", 34, "Paris"), ("Bob", 27, "Berlin"), ("Carla", 45, "Madrid"), ("David", 19, "London"),
    ("Emma", 52, "Rome"), ("Farid", 38, "Cairo"), ("Grace", 23, "Dublin"), ("Hiro", 61, "Tokyo"),
    ("Ines", 30, "Lisbon"), ("Jonas", 41, "Oslo"), ("Kemal", 29, "Ankara"), ("Lena", 36, "Vienna"),
    ("Marco", 57, "Milan"), ("Nadia", 22, "Warsaw"), ("Omar", 48, "Dubai"), ("Priya", 33, "Delhi"),
    ("Quentin", 26, "Lyon"), ("Rosa", 64, "Lima"), ("Sven", 39, "Stockholm"), ("Tara", 31, "Sydney"),
    ("Umar", 44, "Lagos"), ("Vera", 28, "Prague"), ("Wei", 50, "Beijing"), ("Ximena", 35, "Bogota"),
    ("Yusuf", 24, "Istanbul"), ("Zoe", 42, "Toronto"), ("Anil", 37, "Mumbai"), ("Bea", 55, "Brussels"),
    ("Chen", 21, "Shanghai"), ("Dora", 47, "Athens"),
]  # fmt: skip
_FORMS = [
    "{name} is {age} years old and lives in {city}.",
    "Meet {name}, a {age}-year-old from {city}.",
    "{name} ({age}) moved to {city} last year.",
]
CASES: list[tuple[str, Person]] = [
    (_FORMS[i % len(_FORMS)].format(name=n, age=a, city=c), Person(name=n, age=a, city=c))
    for i, (n, a, c) in enumerate(_FACTS)
]


def messages(text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You extract facts as JSON with the keys name, age and city."},
        {"role": "user", "content": f"Text: {text}\nGive the JSON."},
    ]
