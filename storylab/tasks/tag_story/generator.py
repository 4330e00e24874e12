"""Seeded tag sets and short stories that use every tag: the personalised-story task's data, offline.

A tag set is a reader's profile: the hero's name, one or two character traits, a setting, one or two plot
preferences and a tone. Its reference story (one paragraph, 5-8 sentences) is built from sentence templates: each
trait, setting and plot tag appears word for word in a sentence of its own, and the tone is carried by the
tone's own sentences, each holding one of its marker words (TONES), which is how the tone is checked.
"""
from __future__ import annotations

import random

NAMES = ("Pip Mara Theo Luna Otis Wren Juno Felix Nell Arlo Ivy Bram Cleo Rufus Tess Milo Ada Jasper Rosa Finn Hazel "
         "Kit Lotte Ezra").split()
# trait -> what someone with it does (the sentence that shows the trait names it too)
TRAITS = {
    "brave": "walked into the dark without a second thought", "curious": "asked a question about everything",
    "shy": "spoke in a voice as soft as a feather", "stubborn": "never gave up on a plan once it was made",
    "kind": "shared every last crumb with the birds", "clever": "could solve a riddle before it was finished",
    "clumsy": "tripped over things that were not even there", "cheerful": "hummed a tune from morning till night",
    "grumpy": "frowned at the sun for being too bright", "patient": "could wait a whole afternoon for a snail",
    "forgetful": "lost a mitten at least twice a week", "generous": "gave away the best apple every single time",
    "restless": "could not sit still for a minute", "honest": "told the truth even when it was hard",
    "dreamy": "drew maps of places that did not exist", "bold": "spoke to strangers as if they were old friends",
}
SETTINGS = ["a snowy mountain village", "a busy harbour town", "a desert oasis", "a floating market",
            "a quiet island lighthouse", "an old clock tower", "a bamboo forest", "a city of bridges",
            "a sunken garden", "a travelling circus", "a windmill farm", "a library on the moon",
            "a rainy fishing village", "a castle made of glass", "a jungle research camp", "a lantern festival"]
# plot preference -> two sentences that tell it (each names the plot word for word)
PLOTS = {
    "a hidden treasure": ["One morning a torn map hinted at a hidden treasure beneath the old well.",
                          "Everyone whispered that a hidden treasure lay somewhere close by."],
    "an unlikely friendship": ["It was the start of an unlikely friendship with a lonely goose.",
                               "Soon an unlikely friendship grew between the hero and a grumbling troll."],
    "a race against time": ["The bridge would close at sunset, so it became a race against time.",
                            "With the storm coming it was a race against time to bring everyone home."],
    "a mystery to solve": ["Someone had taken the town's bell, and there was a mystery to solve.",
                           "Footprints led nowhere, which left a mystery to solve before supper."],
    "a journey home": ["A lost puppy needed help, and so began a journey home across the hills.",
                       "The wind had carried a kite far away, and its return became a journey home."],
    "a secret door": ["Behind the bookshelf there was a secret door that nobody had opened in years.",
                      "A loose stone in the wall turned out to be a secret door."],
    "a magic spell": ["A dusty book held a magic spell that made teacups dance.",
                      "By accident a magic spell turned every puddle into a mirror."],
    "a big competition": ["The whole town was getting ready for a big competition in the square.",
                          "A poster announced a big competition with a golden ribbon as the prize."],
    "a lost pet": ["A lost pet, a small grey cat, was crying somewhere under the stalls.",
                   "Posters about a lost pet fluttered on every lamp post."],
    "a surprise party": ["The neighbours were quietly planning a surprise party for the baker.",
                         "Nobody was supposed to know about a surprise party for grandmother."],
}
# tone -> its marker words (the tone counts as used when the story holds one) and its sentences (each holds one)
TONES = {
    "funny": (("laughed", "giggled", "silly", "joke"),
              ["Along the way everybody laughed at a goat that wore a hat.",
               "It was so silly that even the pigeons giggled.",
               "In the end the whole town laughed until their cheeks hurt."]),
    "gentle": (("softly", "gently", "warm", "calm"),
               ["The evening was warm and the river moved softly past.",
                "Someone gently tucked a blanket around the sleepy dog.",
                "In the end everything was calm, and the stars came out one by one."]),
    "adventurous": (("daring", "thrilling", "leapt", "charged"),
                    ["It was a daring climb over rocks and roaring water.",
                     "With a thrilling shout they leapt across the gap.",
                     "In the end they charged home with muddy boots and shining eyes."]),
    "mysterious": (("strange", "whispered", "shadows", "puzzling"),
                   ["A strange light flickered where no lamp should be.",
                    "Somebody whispered a name from the shadows.",
                    "In the end one puzzling question was left for tomorrow."]),
    "bittersweet": (("goodbye", "missed", "tears", "remembered"),
                    ["There were tears when the old boat sailed away.",
                     "Someone had to say goodbye to a dear friend.",
                     "In the end they missed the summer, but remembered it kindly."]),
}
INTROS = ["{name} lived in {setting} and was as {trait} as anyone there.",
          "In {setting} there lived a child called {name}, who was very {trait}.",
          "Everyone in {setting} knew {name}, who was {trait} from head to toe."]
TRAIT_SENTENCES = ["Being {trait}, {name} {deed}.", "{name} was {trait} too and {deed}."]
TAG_FIELDS = ("name", "traits", "setting", "plots", "tone")


def sample_tags(rng: random.Random) -> dict:
    return {"name": rng.choice(NAMES), "traits": rng.sample(sorted(TRAITS), rng.choice((1, 2))),
            "setting": rng.choice(SETTINGS), "plots": rng.sample(sorted(PLOTS), rng.choice((1, 2))),
            "tone": rng.choice(sorted(TONES))}


def tags_key(tags: dict) -> tuple:
    return tags["name"], tuple(tags["traits"]), tags["setting"], tuple(tags["plots"]), tags["tone"]


def story(tags: dict, rng: random.Random) -> str:
    """One paragraph: the intro (name, first trait, setting), the second trait, the plots, two of the tone's
    sentences and its closing sentence."""
    first, *more = tags["traits"]
    parts = [rng.choice(INTROS).format(name=tags["name"], trait=first, setting=tags["setting"]),
             TRAIT_SENTENCES[0].format(trait=first, name=tags["name"], deed=TRAITS[first])]
    parts += [TRAIT_SENTENCES[1].format(trait=trait, name=tags["name"], deed=TRAITS[trait]) for trait in more]
    opening, closing = TONES[tags["tone"]][1][:2], TONES[tags["tone"]][1][2]
    for plot, tone_sentence in zip(tags["plots"], rng.sample(opening, 2)):
        parts += [rng.choice(PLOTS[plot]), tone_sentence]
    return " ".join(parts + [closing])


def generate(seed: int, num_sets: int) -> list[dict]:
    """num_sets distinct tag sets, each with its reference story."""
    rng = random.Random(seed)
    seen, records = set(), []
    for _ in range(num_sets * 50):
        if len(records) == num_sets:
            break
        tags = sample_tags(rng)
        if tags_key(tags) in seen:
            continue
        seen.add(tags_key(tags))
        records.append({"id": f"tags{len(records):05d}", "tags": tags, "story": story(tags, rng)})
    if len(records) < num_sets:
        raise ValueError(f"only {len(records)} distinct tag sets could be drawn for num_sets {num_sets}")
    return records
