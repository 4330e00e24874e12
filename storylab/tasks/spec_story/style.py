"""The horror-vs-wholesome style score: a hand-written lexicon, not fitted on any data (in particular not on the DPO
pairs). It shares words with the generator's templates (the same author wrote both), so it measures the two
registers the task trains on; on free text it is a rough guide only."""
from __future__ import annotations

from storylab.metrics.writing import words

HORROR = set("""afraid blood bones breathing buried cold corpse creak creaked creaking crept dark darkness dead death
dread dust eerie empty fear fog ghost grave groaned grey hollow hungry lonely nobody patient pressed scratched scream
shadow shadows silence silent stare stared stopped strange trembling unhurried waiting watched whisper whispered wet
wrong failing deliberate expected blink listening carved pacing behind closer""".split())
WHOLESOME = set("""bright cheerful cosy cozy delight friends friendly gentle gently generous gift glad glowed golden
happy home hug joy kind kindly laugh laughed lovely merry morning painted safe shared singing sleep slept smile smiled
soft softly soundly sun sunny sweet tea warm warmth welcome waved hummed cat kettle""".split())


def horror_score(text: str) -> float:
    """Share of lexicon words that are horror words: 1 all horror, 0 all wholesome, 0.5 with no lexicon word."""
    tokens = words(text)
    horror = sum(token in HORROR for token in tokens)
    wholesome = sum(token in WHOLESOME for token in tokens)
    return horror / (horror + wholesome) if horror + wholesome else 0.5
