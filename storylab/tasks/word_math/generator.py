"""Seeded GSM8K-style word problems: a person starts with some objects and 2-4 operations change how many they
have; the answer is an integer.

A problem's *key* is its arithmetic: the start and the operation chain with its operands (7, +5, *2, -3).
Names, objects and sentence templates are its surface. Splits are drawn over keys, so a validation or test
problem never shares its key with a train problem: a new name on an old problem is not held out.

Reference solutions follow GSM8K: brief working, one line per operation (`7+5=12`, as in GSM8K's `<<7+5=12>>` annotations), then `#### <answer>`.
A share of them (`answer_only_fraction`) gives the answer alone, as many human-written solutions do; a model
that imitates both styles does those problems in its head.
"""
from __future__ import annotations

import random

NAMES = {"f": "Mia Ava Lena Zoe Ines Nora Ruth Maya Iris Lucy Emma Sofia Clara Hana Ella Rosa".split(),
         "m": "Leo Sam Omar Finn Hugo Ivan Theo Max Ben Luca Noah Adam Eli Tom Raj Owen".split()}
PRONOUNS = {"f": ("she", "her"), "m": ("he", "him")}
OBJECTS = "apples marbles stickers coins books pencils cookies shells stamps cards beads buttons".split()

# operation -> (symbol, result, sentence templates). {Pron}/{pron}: the person, {obj_pron}: him/her, {n}: operand.
OPERATIONS = {
    "add": ("+", lambda value, n: value + n,
            ["{Pron} buys {n} more {obj}.", "{friend} gives {obj_pron} {n} {obj}.", "{Pron} finds {n} more {obj}.",
             "Then {pron} wins {n} {obj}."]),
    "sub": ("-", lambda value, n: value - n,
            ["{Pron} gives {n} {obj} to {friend}.", "{Pron} loses {n} {obj}.", "Then {pron} sells {n} {obj}.",
             "{friend} takes {n} of the {obj}."]),
    "mul": ("*", lambda value, n: value * n,
            ["Then {pron} has {n} times as many {obj}.", "{Pron} multiplies the {obj} by {n}.",
             "The number of {obj} becomes {n} times as large."]),
}


def operand_choices(op: str, value: int, max_operand: int, max_value: int) -> list[int]:
    """Operands that keep every intermediate value in 1..max_value."""
    if op == "add":
        return list(range(1, min(max_operand, max_value - value) + 1))
    if op == "sub":
        return list(range(1, min(max_operand, value - 1) + 1))
    return [k for k in range(2, 6) if value * k <= max_value]


def draw_key(rng: random.Random, min_ops: int, max_ops: int, max_start: int, max_operand: int, max_value: int,
             operations: list[str]) -> tuple:
    """(start, (op, operand), ...): the arithmetic of one problem."""
    value = start = rng.randint(2, max_start)
    steps = []
    for _ in range(rng.randint(min_ops, max_ops)):
        op = rng.choice([op for op in operations if operand_choices(op, value, max_operand, max_value)])
        operand = rng.choice(operand_choices(op, value, max_operand, max_value))
        steps.append((op, operand))
        value = OPERATIONS[op][1](value, operand)
    return (start, *steps)


def working_lines(key: tuple) -> tuple[list[str], int]:
    """`a+n=b` per operation, and the answer."""
    value, lines = key[0], []
    for op, operand in key[1:]:
        symbol, apply, _ = OPERATIONS[op]
        result = apply(value, operand)
        lines.append(f"{value}{symbol}{operand}={result}")
        value = result
    return lines, value


def write_problem(rng: random.Random, key: tuple) -> str:
    gender = rng.choice("fm")
    name = rng.choice(NAMES[gender])
    friend = rng.choice([n for n in NAMES["f"] + NAMES["m"] if n != name])
    obj = rng.choice(OBJECTS)
    pron, obj_pron = PRONOUNS[gender]
    sentences = [f"{name} has {key[0]} {obj}."]
    for op, operand in key[1:]:
        text = rng.choice(OPERATIONS[op][2]).format(Pron=pron.capitalize(), pron=pron, obj_pron=obj_pron, n=operand,
                                                    obj=obj, friend=friend)
        sentences.append(text)
    sentences.append(f"How many {obj} does {name} have now?")
    return " ".join(sentences)


def generate(seed: int, num_problems: int, min_ops: int, max_ops: int, max_start: int, max_operand: int,
             max_value: int, operations: list[str]) -> list[dict]:
    """num_problems problems with distinct keys, in draw order; the same arguments give the same bytes."""
    rng = random.Random(seed)
    keys: dict[tuple, None] = {}
    for _ in range(50 * num_problems):
        if len(keys) == num_problems:
            break
        keys.setdefault(draw_key(rng, min_ops, max_ops, max_start, max_operand, max_value, operations), None)
    else:
        raise ValueError(f"only {len(keys)} distinct problems exist at this difficulty; asked for {num_problems}")
    problems = []
    for index, key in enumerate(keys):
        lines, answer = working_lines(key)
        problems.append({"id": f"p{index:06d}", "question": write_problem(rng, key), "working": lines,
                         "number": answer, "key": key_text(key), "num_ops": len(key) - 1})
    return problems


def key_text(key: tuple) -> str:
    """`7 +5 *2 -3`: the arithmetic, the identity that splits never share."""
    return " ".join([str(key[0]), *(f"{OPERATIONS[op][0]}{operand}" for op, operand in key[1:])])


def solution(working: list[str], answer: int, answer_only: bool) -> str:
    """GSM8K's target: the working lines (none when answer_only), then `#### <answer>`."""
    return "\n".join(([] if answer_only else working) + [f"#### {answer}"])
