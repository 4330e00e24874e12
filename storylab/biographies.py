"""Seeded, template-based generator of historical-style biographies with ground-truth facts, and the questions
that ask for them: the world of story_qa (closed-book) and of instruct's open-book questions.

Each person (entity) has FACT_TYPES facts. A story states every fact once, in a template drawn per
story, with the subject named by full name, honorific + surname, or pronoun, and mixed with
distractor sentences about other characters. Knowledge augmentation (Allen-Zhu & Li, Physics of
Language Models 3.1) is two knobs: several stories per entity and shuffled sentence order.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

MALE_NAMES = ("Aldric Osbert Edmund Godric Wulfstan Baldwin Roderick Anselm Leofric Thurstan Hugh Geoffrey "
              "Osric Cedric Alaric Bertram Conrad Everard Gervase Hamon Ivo Jocelin Lambert Merek Odo Percival "
              "Ranulf Sigeric Tancred Walter").split()
FEMALE_NAMES = ("Aldith Matilda Edith Rohesia Isolde Beatrix Cecily Elfreda Gunnora Hawise Ida Juliana "
                "Leofrun Mabel Nesta Osanna Petronilla Sabina Theda Wynflaed Agnes Berengaria Clemence "
                "Emma Gisela Helewise Joan Lettice Mirabel Yvette").split()
DISTRACTOR_SURNAMES = ("Varnholt Ashcombe Blackmere Corbett Dunstable Everleigh Fairbourne Greywell Harcourt Ingleby "
            "Kestrel Lovell Mortimer Northam Oakhurst Penhallow Quarrington Ravensworth Stanmore Thornbury "
            "Umfraville Valance Whitlock Yarborough Ashdown Bellweather Carew Davenant Fenwick Gilbarde "
            "Holloway Illingworth Jessop Kingsley Lisle Mandeville Netherby Oxley Pembury Redvers").split()
# Each person gets a unique surname (prefix + suffix), so one surname names one person.
SURNAME_PREFIXES = ("Ash Black Corn Dun Elder Fair Grey Hart Iron Kings Long Mor North Oak Pen Quar Raven Stan Thorn "
                    "Um Val Whit Yar Bell Car Dav Fen Gil Hol Ill Jes Lis Man Neth Ox Pem Red Sel Tal Wick").split()
SURNAME_SUFFIXES = "holt combe mere bett stable leigh bourne well court by worth more ham hurst ton ford wood field".split()
PLACES = ["Aldermoor", "Brackenford", "Castle Dunmere", "Eastwold", "Fallowdeep", "Gorsebrook", "Hallowmere",
          "Ironbridge", "Kelmscar", "Lindenfall", "Marrowgate", "Northwyke", "Oldcastle", "Pennyholt", "Queensferry",
          "Ravenglass", "Saltmarsh", "Thornwick", "Underhill", "Valewood", "Westhollow", "Yarrowby", "Ashford",
          "Blackwater", "Coldharbour", "Dunholm", "Elmstead", "Frostmere", "Greystone", "Harrowgate", "Saint Corwen"]
SURNAMES = [prefix + suffix for prefix in SURNAME_PREFIXES for suffix in SURNAME_SUFFIXES]
# A surname that is also a distractor's or a place's would tie a person's facts to other text (make_entities).
CLASHING = set(DISTRACTOR_SURNAMES) | set(PLACES)
CLEAN_SURNAMES = [name for name in SURNAMES if name not in CLASHING]
MAX_PEOPLE = len(CLEAN_SURNAMES)  # at most this many people can be named
TITLES = ["High Chancellor", "Master of Coin", "Keeper of the Seal", "Royal Falconer", "Marshal of the Realm",
          "Lord Steward", "Warden of the North", "Abbot of the Order", "Court Physician", "Master of Ships",
          "Captain of the Guard", "Royal Chronicler", "Treasurer of the Crown", "Justiciar", "Master of Horse",
          "Constable of the Tower", "Grand Almoner", "Herald of Arms", "Keeper of the Forests", "Royal Architect"]
PATRONS = ["King Aldwin the Bold", "Queen Maud of Erlen", "Duke Roland of Vesk", "Bishop Anselm the Elder",
           "Countess Ysolde of Brae", "King Harald the Young", "Queen Gisela the Wise", "Prince Edric of Morn",
           "Earl Godwin of Westmarch", "Duchess Adela of Corve", "Archbishop Lanfranc", "King Osric the Lame",
           "Margrave Otto of Lenz", "Queen Berta the Fair", "Baron Hugh of Carrow", "Emperor Lothar the Pious",
           "Abbess Hilda of Whitby", "Duke Conrad the Red", "Lady Emma of Rouen", "King Canute the Great"]
SPOUSES = ["Edmund Halloway", "Rowena Ashby", "Gilbert Stroud", "Amice Farrow", "Reginald Crane", "Eleanor Wyatt",
           "Simon Gale", "Alys Brandon", "Thomas Vane", "Margery Hale", "Robert Cleeve", "Ysabel Marsh",
           "William Drury", "Constance Lyle", "Henry Soames", "Avice Tolland", "Richard Ormond", "Philippa Dane",
           "Nicholas Frome", "Sibyl Harte"]
DEEDS = ["founded the abbey of Saint Corwen", "led the siege of the northern fort", "wrote a chronicle of the plague years",
         "rebuilt the great bridge", "negotiated the peace of the two rivers", "discovered a silver mine",
         "mapped the eastern coast", "defended the city walls", "translated the old laws", "built a hospital for the poor",
         "crowned the young king", "raised a fleet against the raiders", "drained the southern fens",
         "founded a school of music", "brokered the royal marriage", "put down the peasant revolt",
         "reformed the coinage", "planted the royal vineyards", "endowed the cathedral library", "ended the long famine"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
OCCUPATIONS = ["merchant", "scribe", "soldier", "monk", "weaver", "smith", "minstrel", "knight", "tax collector", "miller"]
DISTRACTOR_ACTIONS = ["sold wool at the market", "copied psalters by candlelight", "fought in the border wars",
                      "kept the records of the court", "sang at the winter feast", "lost a fortune at dice",
                      "repaired the chapel roof", "carried letters between the castles", "quarrelled with the sheriff",
                      "brewed ale for the garrison"]
FLAVOUR = ["{Ref} was known for a sharp tongue and a patient hand.", "{Ref} rarely spoke at council but was always heard.",
           "Many songs were later written about {refo}.", "{Ref} kept a small library of borrowed books.",
           "Those who served {obj} remembered {poss} fairness.", "{Ref} rode out each spring to inspect the roads."]

FACT_TEMPLATES: dict[str, list[str]] = {
    "birth_date": ["{Ref} was born on {value}.", "On {value}, {ref} was born.",
                   "The records give {value} as the day {ref} was born.", "{Ref} came into the world on {value}."],
    "birthplace": ["{Ref} was born in {value}.", "{Ref} spent {poss} childhood in {value}, where {pron} was born.",
                   "The town of {value} was the birthplace of {refo}.", "{Ref} drew first breath in {value}."],
    "title": ["{Ref} served as {value}.", "{Ref} held the office of {value}.",
              "In time {ref} rose to become {value}.", "The crown named {refo} {value}."],
    "spouse": ["{Ref} married {value}.", "{Ref} took {value} as {poss} spouse.",
               "{value} became the spouse of {refo}.", "{Ref} wed {value} in a quiet ceremony."],
    "patron": ["{Ref} served under the patronage of {value}.", "{value} was the patron of {refo}.",
               "{Ref} owed {poss} rise to {poss} patron, {value}.", "{Ref} found a generous patron in {value}."],
    "deed": ["{Ref} {value}.", "It was {ref} who {value}.", "{Ref} is remembered because {pron} {value}.",
             "Above all, {ref} {value}."],
    "death_place": ["{Ref} died in {value}.", "{Ref} spent {poss} last days in {value} and died there.",
                    "{value} was the place where {ref} died.", "Death came to {refo} in {value}."],
}
FACT_TYPES = tuple(FACT_TEMPLATES)
QUESTION_TEMPLATES: dict[str, list[str]] = {
    "birth_date": ["When was {name} born?", "On what date was {name} born?",
                   "What was the birth date of {name}?", "What day was {name} born on?"],
    "birthplace": ["Where was {name} born?", "What was the birthplace of {name}?",
                   "In which town was {name} born?", "Which place was {name} born in?"],
    "title": ["What title did {name} hold?", "What was the title of {name}?",
              "Which office did {name} hold?", "What office was {name} given?"],
    "spouse": ["Whom did {name} marry?", "Who was the spouse of {name}?",
               "Who did {name} wed?", "To whom was {name} married?"],
    "patron": ["Who was the patron of {name}?", "Under whose patronage did {name} serve?",
               "Who was patron to {name}?", "Whose patronage did {name} enjoy?"],
    "deed": ["What is {name} remembered for?", "What deed is {name} known for?",
             "What did {name} do that the chronicles remember?", "For what deed is {name} remembered?"],
    "death_place": ["Where did {name} die?", "What was the place of death of {name}?",
                    "In which town did {name} die?", "Which place did {name} die in?"],
}
OPENINGS = ["This is the account of {full}.", "The chronicles remember {full}.", "Here is told the life of {full}.",
            "Few lives of that age were as full as that of {full}."]


@dataclass(frozen=True)
class Entity:
    entity_id: str
    name: str
    gender: str  # "m" | "f": picks pronouns and honorific
    facts: dict[str, str]
    has_story: bool

    def to_record(self) -> dict:
        return {"entity_id": self.entity_id, "name": self.name, "gender": self.gender,
                "facts": self.facts, "has_story": self.has_story}


def make_entities(rng: random.Random, num_with_story: int, num_unseen: int) -> list[Entity]:
    """Unique surnames, shared first names; facts drawn uniformly so the chance level per fact type is known."""
    total = num_with_story + num_unseen
    if total > MAX_PEOPLE:
        raise ValueError(f"at most {MAX_PEOPLE} entities can be named; asked for {total}")
    drawn = rng.sample(SURNAMES, total)
    # A clashing draw takes the first unused clean surname instead, without touching the random stream, so
    # every other person (and each earlier measurement on them) stays the same.
    in_use = set(drawn)
    spare = iter(name for name in CLEAN_SURNAMES if name not in in_use)
    drawn = [next(spare) if name in CLASHING else name for name in drawn]
    first_names = [(first, "m") for first in MALE_NAMES] + [(first, "f") for first in FEMALE_NAMES]
    entities = []
    for index, surname in enumerate(drawn):
        first, gender = rng.choice(first_names)
        name = f"{first} {surname}"
        facts = {
            "birth_date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(1050, 1350)}",
            "birthplace": rng.choice(PLACES),
            "title": rng.choice(TITLES),
            "spouse": rng.choice(SPOUSES),
            "patron": rng.choice(PATRONS),
            "deed": rng.choice(DEEDS),
            "death_place": rng.choice(PLACES),
        }
        entities.append(Entity(f"e{index:05d}", name, gender, facts, has_story=index < num_with_story))
    return entities


def _references(entity: Entity) -> dict[str, str]:
    male = entity.gender == "m"
    return {"full": entity.name, "honorific": f"{'Lord' if male else 'Lady'} {entity.name.split()[-1]}",
            "pron": "he" if male else "she", "poss": "his" if male else "her", "obj": "him" if male else "her"}


def _fill(template: str, ref: str, refs: dict[str, str], value: str = "") -> str:
    """{Ref}/{ref}: the person as subject; {refo}: as object (a pronoun becomes him/her)."""
    refo = refs["obj"] if ref == refs["pron"] else ref
    text = template.format(Ref=ref, ref=ref, refo=refo, value=value, pron=refs["pron"], poss=refs["poss"],
                           obj=refs["obj"])
    return text[0].upper() + text[1:]


def write_story(rng: random.Random, entity: Entity, permute: bool, num_distractors: int,
                pronoun_fraction: float) -> str:
    """One story: opening, one sentence per fact (fixed or shuffled order), flavour and distractors."""
    refs = _references(entity)
    order = list(FACT_TYPES)
    if permute:
        rng.shuffle(order)
    sentences = []
    for position, fact in enumerate(order):
        # The first fact sentence names the person in full; later ones use a pronoun (pronoun_fraction of
        # them) or a name: a fact stated beside the name is stored under it, one behind a pronoun needs
        # the model to resolve the reference first.
        if position == 0:
            ref = refs["full"]
        elif rng.random() < pronoun_fraction:
            ref = refs["pron"]
        else:
            ref = rng.choice([refs["full"], refs["full"], refs["honorific"]])
        sentences.append(_fill(rng.choice(FACT_TEMPLATES[fact]), ref, refs, entity.facts[fact]))
    sentences.insert(rng.randint(1, len(sentences)), _fill(rng.choice(FLAVOUR), refs["honorific"], refs))
    for _ in range(num_distractors):
        other = f"{rng.choice(MALE_NAMES + FEMALE_NAMES)} {rng.choice(DISTRACTOR_SURNAMES)}"
        distractor = (f"In {rng.randint(1050, 1350)}, {other}, a {rng.choice(OCCUPATIONS)} of "
                      f"{rng.choice(PLACES)}, {rng.choice(DISTRACTOR_ACTIONS)}.")
        sentences.insert(rng.randint(1, len(sentences)), distractor)
    return " ".join([rng.choice(OPENINGS).format(full=entity.name), *sentences])


def generate(seed: int, num_entities: int, num_unseen_entities: int, stories_per_entity: int,
             permute_sentences: bool, distractors_per_story: int,
             pronoun_fraction: float) -> tuple[list[Entity], list[dict]]:
    """Entities (with and without stories) and their stories; the same arguments give the same bytes."""
    rng = random.Random(seed)
    entities = make_entities(rng, num_entities, num_unseen_entities)
    stories = []
    for entity in entities:
        if not entity.has_story:
            continue
        for copy in range(stories_per_entity):
            stories.append({"story_id": f"{entity.entity_id}-s{copy}", "entity_id": entity.entity_id,
                            "text": write_story(rng, entity, permute_sentences, distractors_per_story, pronoun_fraction)})
    return entities, stories
