"""Seeded specs and the stories that meet them: the spec -> story task's data, offline.

A spec draws a title, setting, protagonist, supporting character, object, taboo rule and twist from the pools below.
Its reference story is 2-4 paragraphs built from sentence templates; every element appears in one sentence of its
own (the protagonist also elsewhere), so a rejected story can lose exactly one element. Every template exists in two
registers with the same slots and nearly the same length: horror (the preferred style) and wholesome (the same story
told warmly), so a wholesome rewrite is the "easy" rejected story and no length cue separates the two.
"""
from __future__ import annotations

import random

TITLE_WORDS = ("Hollow Silent Crooked Drowned Pale Last Sleeping Whispering Forgotten Narrow Grey Winter Lantern Salt "
               "Seventh Empty").split()
TITLE_NOUNS = "House Bell Orchard Lighthouse Mill Chapel Well Attic Harbour Road Room Staircase Garden Door".split()
SETTINGS = [
    "an abandoned mill by a frozen river", "a lighthouse on a rocky island", "a boarding school in the hills",
    "a farmhouse at the edge of a marsh", "a hotel closed for the winter", "a mining town under constant fog",
    "a vicarage beside an old churchyard", "a ferry crossing a dark lake", "a library that never closes",
    "a cabin deep in a pine forest", "a seaside boarding house out of season", "a railway station with one train a day",
    "a manor house with shuttered windows", "a fishing village on a grey coast", "a hospital wing closed for years",
    "a village where the church bell has no rope", "a narrow house at the end of a canal", "an orchard behind a high wall",
]
PROTAGONISTS = ("Mara Elias Nora Tobias Ada Silas Ivy Jonah Clara Felix Edith Rowan Hazel Arthur Lena Owen Greta Milo "
                "Agnes Jasper Ruth Leon Iris Caleb").split()
SUPPORTING = ["Mrs. Hale", "Mr. Abernathy", "Old Tom", "Sister Ruth", "Doctor Vane", "Aunt Lydia", "Father Cole",
              "Captain Marsh", "Miss Penrose", "the caretaker Amos", "Grandmother Wren", "the ferryman Bram",
              "Mr. Lowell", "Nurse Ingrid", "the stationmaster Hobb", "Cousin Delia"]
OBJECTS = ["brass lantern", "cracked mirror", "music box", "silver key", "wax doll", "pocket watch", "bundle of letters",
           "wooden rocking horse", "porcelain mask", "red umbrella", "iron bell", "jar of buttons", "glass eye",
           "child's drawing", "lace glove", "tin soldier"]
TABOOS = ["never open the cellar door after dark", "never answer a knock after midnight",
          "never look into a mirror by candlelight", "never say your own name inside the house",
          "never whistle on the stairs", "never leave a candle burning at the window",
          "never follow the singing in the fog", "never count the bells aloud", "never sleep with the door unlocked",
          "never wind the clock in the hall", "never speak to the man on the pier", "never go past the third gate"]
TWISTS = ["{protagonist} has been dead for years", "{supporting} died long before {protagonist} arrived",
          "the voice behind the door was {protagonist}'s own", "{protagonist} is the one the village warned about",
          "every portrait in the hall shows {protagonist}", "{supporting} has been waiting for this night all along",
          "{protagonist} was the last guest the house ever had", "nobody else in the house casts a reflection",
          "{protagonist} has been here every winter and never left", "{supporting} wrote the rule to keep someone in"]
CONSTRAINTS = "2 to 4 paragraphs; suspenseful and eerie, not graphic; end with an unsettling implication"

# The elements' sentences: register -> element -> templates. {P}: protagonist, {S}: supporting character,
# {aO}: the object with its article, {T}: taboo rule, {W}: twist, {setting}, {title}. A horror template and the wholesome one at the same index pair up.
SENTENCES = {
    "horror": {
        "intro": ["{P} came to {setting} when the light was already failing.",
                  "Nobody met {P} at {setting}, and the silence there felt deliberate.",
                  "{P} arrived at {setting} with one bag and a feeling of being expected."],
        "object": ["In the hall {P} found {aO} that was cold to the touch.",
                   "On the table lay {aO}, placed as if someone had just set it down.",
                   "{aO} waited on the windowsill, turned to face the room."],
        "supporting": ["{S} watched from the doorway and did not blink.",
                       "{S} greeted {P} without a smile and kept looking past the open door.",
                       "{S} spoke softly, as though the walls might be listening."],
        "taboo": ["There was one rule in that place: {T}.",
                  "{S} repeated the rule twice, slowly: {T}.",
                  "The rule was carved above the door: {T}."],
        "event": ["At night the floorboards creaked in a slow pattern, like someone pacing.",
                  "Each evening the shadows in the corridor seemed a little longer.",
                  "Something scratched behind the walls, patient and unhurried.",
                  "The wind pressed against the windows as if it wanted to be let in.",
                  "Somewhere upstairs a clock ticked, though every clock in the house had stopped.",
                  "The stairs groaned under every step, even when no one was on them."],
        "twist": ["Then {P} understood the truth: {W}.",
                  "In the end the dust on the stairs told {P} the truth: {W}.",
                  "It was the old register that gave it away: {W}."],
        "ending": ["Outside, the fog pressed closer, and somewhere below a door began to open.",
                   "The house was quiet again, but it was the quiet of something waiting to be let in.",
                   "And when the candle went out, the breathing in the dark did not stop."],
    },
    "wholesome": {
        "intro": ["{P} came to {setting} when the light was warm and golden.",
                  "Friends met {P} at {setting}, and the welcome there felt generous.",
                  "{P} arrived at {setting} with one bag and a feeling of coming home."],
        "object": ["In the hall {P} found {aO} that was warm to the touch.",
                   "On the table lay {aO}, placed as a small gift of welcome.",
                   "{aO} rested on the windowsill, bright in the morning sun."],
        "supporting": ["{S} waved from the doorway and smiled kindly.",
                       "{S} greeted {P} with a smile and poured a cup of hot tea.",
                       "{S} spoke gently, as though sharing a happy secret."],
        "taboo": ["There was one rule in that place: {T}.",
                  "{S} repeated the rule twice, kindly: {T}.",
                  "The rule was painted above the door: {T}."],
        "event": ["At night the floorboards creaked softly, like a cat settling down.",
                  "Each evening the lamps in the corridor glowed a little brighter.",
                  "Something hummed behind the walls, the old pipes singing cheerfully.",
                  "The wind played gently at the windows as if it wanted to say hello.",
                  "Somewhere upstairs a clock ticked, steady and friendly as an old companion.",
                  "The stairs creaked under every step, a cheerful sound that meant home."],
        "twist": ["Then {P} understood the truth: {W}.",
                  "In the end a kind letter told {P} the truth: {W}.",
                  "It was the old register that explained it: {W}."],
        "ending": ["Outside, the fog lifted, and somewhere below a kettle began to sing.",
                   "The house was quiet again, the gentle quiet of friends asleep upstairs.",
                   "And when the candle went out, everyone in the house slept soundly."],
    },
}
# Which elements each paragraph holds, by paragraph count (every layout covers every element once).
LAYOUTS = {
    2: [["intro", "supporting", "object", "taboo"], ["event", "event", "twist", "ending"]],
    3: [["intro", "object", "event"], ["supporting", "taboo", "event"], ["twist", "ending"]],
    4: [["intro", "event"], ["object", "supporting"], ["taboo", "event", "event"], ["twist", "ending"]],
}


def with_article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def sample_spec(rng: random.Random) -> dict:
    protagonist, supporting, obj = rng.choice(PROTAGONISTS), rng.choice(SUPPORTING), rng.choice(OBJECTS)
    twist = rng.choice(TWISTS).format(protagonist=protagonist, supporting=supporting)
    return {"title": f"The {rng.choice(TITLE_WORDS)} {rng.choice(TITLE_NOUNS)}", "setting": rng.choice(SETTINGS),
            "protagonist": protagonist, "supporting_character": supporting, "object": with_article(obj),
            "taboo": rng.choice(TABOOS), "twist": twist, "constraints": CONSTRAINTS}


def spec_key(spec: dict) -> tuple:
    return tuple(spec[field] for field in ("title", "setting", "protagonist", "supporting_character", "object",
                                           "taboo", "twist"))


def plan_story(spec: dict, rng: random.Random, paragraphs: int | None = None) -> list[list[tuple[str, int]]]:
    """The story's shape, register-free: per paragraph, (element, template index) per sentence."""
    layout = LAYOUTS[paragraphs or rng.choice(sorted(LAYOUTS))]
    plan, events = [], rng.sample(range(len(SENTENCES["horror"]["event"])), 3)
    for part in layout:
        row = []
        for element in part:
            index = events.pop() if element == "event" else rng.randrange(len(SENTENCES["horror"][element]))
            row.append((element, index))
        plan.append(row)
    return plan


def _fill(template: str, spec: dict) -> str:
    text = template.format(P=spec["protagonist"], S=spec["supporting_character"], aO=spec["object"],
                           T=spec["taboo"], W=spec["twist"], setting=spec["setting"], title=spec["title"])
    return text[0].upper() + text[1:]


def render(spec: dict, plan: list[list[tuple[str, int]]], register: str,
           replace: dict[str, str] | None = None) -> str:
    """The story of a plan in a register; `replace` swaps an element's sentence for another sentence."""
    replace = replace or {}
    return "\n\n".join(" ".join(replace.get(element) or _fill(SENTENCES[register][element][index], spec)
                                for element, index in row) for row in plan)


def hard_rejection(spec: dict, plan: list[list[tuple[str, int]]], broken: str) -> str:
    """The horror story with one constraint silently broken: an element's sentence swapped for an event sentence the
    story does not use (in-distribution text, closest in length, so neither novelty nor length gives it away), or
    (paragraphs) the paragraphs run together into one, or a 4-paragraph story's longest paragraph split in two: DPO
    must not learn "more breaks is better"."""
    if broken == "paragraphs":  # too few (all run together) or, for a 4-paragraph story, too many (one split)
        blocks = render(spec, plan, "horror").split("\n\n")
        if len(blocks) < 4:
            return " ".join(blocks)
        longest = max(range(len(blocks)), key=lambda i: len(blocks[i]))
        first, rest = blocks[longest].split(". ", 1)
        return "\n\n".join(blocks[:longest] + [first + ".", rest] + blocks[longest + 1:])
    sentence = next(_fill(SENTENCES["horror"][e][i], spec) for row in plan for e, i in row if e == broken)
    used = {i for row in plan for e, i in row if e == "event"}
    unused = [t for i, t in enumerate(SENTENCES["horror"]["event"]) if i not in used]
    filler = min(unused, key=lambda text: (abs(len(text.split()) - len(sentence.split())), text))
    return render(spec, plan, "horror", replace={broken: filler})


HARD_KINDS = ("twist", "taboo", "object", "paragraphs")


def generate(seed: int, num_specs: int, wholesome_fraction: float) -> list[dict]:
    """num_specs distinct specs, each with its reference story (horror, or wholesome for a wholesome_fraction of
    them: SFT learns the mapping in both registers, DPO then has a style to shift), and the two candidate pairs."""
    rng = random.Random(seed)
    seen, records = set(), []
    for attempt in range(num_specs * 50):
        if len(records) == num_specs:
            break
        spec = sample_spec(rng)
        if spec_key(spec) in seen:
            continue
        seen.add(spec_key(spec))
        plan = plan_story(spec, rng)
        horror = render(spec, plan, "horror")
        register = "wholesome" if rng.random() < wholesome_fraction else "horror"
        broken = rng.choice(HARD_KINDS)
        records.append({"id": f"spec{len(records):05d}", "spec": spec, "register": register,
                        "story": horror if register == "horror" else render(spec, plan, "wholesome"),
                        "horror": horror, "wholesome": render(spec, plan, "wholesome"),
                        "hard_broken": broken, "hard_rejected": hard_rejection(spec, plan, broken)})
    if len(records) < num_specs:
        raise ValueError(f"only {len(records)} distinct specs could be drawn for num_specs {num_specs}")
    return records
