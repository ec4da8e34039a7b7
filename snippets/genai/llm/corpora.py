"""Text to train a tiny GPT on, made by the course itself: no downloads.

* facts_corpus(): countries and their capitals (and the continent each
  capital lies in), said in varied sentences, so that a model that reads it
  learns to complete "The capital of France is" with " Paris".
* story_corpus(): short tales from a small grammar, each starting "Once upon
  a time, there lived a ...", separated by the <|endoftext|> token.
* read_text(path): any UTF-8 text file of yours, for example Tiny
  Shakespeare, with a clear error if it cannot be used.

Both generated corpora are deterministic: the same seed gives the same text.

    python -m genai.llm.corpora
"""

from __future__ import annotations

import random
from pathlib import Path

END_OF_TEXT = "<|endoftext|>"   # GPT-2's separator between documents


class CorpusError(ValueError):
    """A text that cannot be trained on: missing, empty, not UTF-8."""


# --8<-- [start:capitals]
# country -> capital. Only countries whose capital is not in dispute and
# not split between cities. Names without accents, as often in English.
CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome",
    "Spain": "Madrid", "Portugal": "Lisbon", "the United Kingdom": "London",
    "Ireland": "Dublin", "Belgium": "Brussels", "Austria": "Vienna",
    "Poland": "Warsaw", "Greece": "Athens", "Sweden": "Stockholm",
    "Norway": "Oslo", "Denmark": "Copenhagen", "Finland": "Helsinki",
    "Iceland": "Reykjavik", "Hungary": "Budapest", "Romania": "Bucharest",
    "Bulgaria": "Sofia", "Ukraine": "Kyiv", "Russia": "Moscow",
    "Turkey": "Ankara", "Croatia": "Zagreb", "Serbia": "Belgrade",
    "Slovakia": "Bratislava", "Estonia": "Tallinn", "Latvia": "Riga",
    "Lithuania": "Vilnius", "Egypt": "Cairo", "Kenya": "Nairobi",
    "Nigeria": "Abuja", "Ethiopia": "Addis Ababa", "Morocco": "Rabat",
    "Ghana": "Accra", "Senegal": "Dakar", "Algeria": "Algiers",
    "Japan": "Tokyo", "China": "Beijing", "India": "New Delhi",
    "Pakistan": "Islamabad", "Thailand": "Bangkok", "Vietnam": "Hanoi",
    "South Korea": "Seoul", "the Philippines": "Manila", "Iran": "Tehran",
    "Iraq": "Baghdad", "Saudi Arabia": "Riyadh", "Nepal": "Kathmandu",
    "Australia": "Canberra", "New Zealand": "Wellington",
    "Canada": "Ottawa", "Mexico": "Mexico City", "Cuba": "Havana",
    "Peru": "Lima", "Chile": "Santiago", "Argentina": "Buenos Aires",
    "Colombia": "Bogota", "Venezuela": "Caracas", "Brazil": "Brasilia",
    "Uruguay": "Montevideo",
}
# --8<-- [end:capitals]

# the continent each capital city lies in (Moscow: Europe, Ankara: Asia)
EUROPE = ("Paris Berlin Rome Madrid Lisbon London Dublin Brussels Vienna "
          "Warsaw Athens Stockholm Oslo Copenhagen Helsinki Reykjavik "
          "Budapest Bucharest Sofia Kyiv Moscow Zagreb Belgrade Bratislava "
          "Tallinn Riga Vilnius")
AFRICA = "Cairo Nairobi Abuja Addis Ababa Rabat Accra Dakar Algiers"
ASIA = ("Ankara Tokyo Beijing New Delhi Islamabad Bangkok Hanoi Seoul "
        "Manila Tehran Baghdad Riyadh Kathmandu")
OCEANIA = "Canberra Wellington"
NORTH_AMERICA = "Ottawa Mexico City Havana"
SOUTH_AMERICA = ("Lima Santiago Buenos Aires Bogota Caracas Brasilia "
                 "Montevideo")


def _continents() -> dict[str, str]:
    """capital -> continent, from the lists above."""
    lists = {"Europe": EUROPE, "Africa": AFRICA, "Asia": ASIA,
             "Oceania": OCEANIA, "North America": NORTH_AMERICA,
             "South America": SOUTH_AMERICA}
    found = {}
    for continent, names in lists.items():
        for capital in CAPITALS.values():
            if f" {capital} " in f" {names} ":
                found[capital] = continent
    return found


CONTINENT = _continents()


# --8<-- [start:facts]
TEMPLATES = [
    "The capital of {country} is {capital}.",
    "{Capital} is the capital of {country}.",
    "{Country}'s capital city is {capital}.",
    "Q: What is the capital of {country}? A: {capital}.",
    "The city of {capital} is the capital of {country}.",
    "If you travel to {country}, visit its capital, {capital}.",
    "{Capital} is a city in {continent}.",
]


def facts_corpus(seed: int = 0, rounds: int = 4) -> str:
    """Every fact in every template, rounds times, in a seeded order."""
    sentences = []
    for country, capital in CAPITALS.items():
        for template in TEMPLATES:
            sentence = template.format(
                country=country, Country=country[0].upper() + country[1:],
                capital=capital, Capital=capital,
                continent=CONTINENT[capital])
            sentences += [sentence] * rounds
    random.Random(seed).shuffle(sentences)
    return "\n".join(sentences) + "\n"
# --8<-- [end:facts]


# --8<-- [start:stories]
# a small grammar: each slot picks one of its choices
HEROES = ["fox", "rabbit", "knight", "princess", "dragon", "baker",
          "fisherman", "girl", "boy", "bear", "mouse", "cat", "farmer",
          "wizard", "turtle", "king"]
KINDS = ["little", "brave", "kind", "clever", "shy", "curious", "tiny",
         "gentle", "proud", "lonely", "happy", "young", "wise", "small"]
PLACES = ["in a small village", "in the deep forest",
          "in a castle by the sea", "in a quiet town",
          "high in the mountains", "in a little house by the river",
          "on a green hill", "near a big lake"]
HABITS = ["liked to sing songs", "went for a long walk",
          "helped the neighbours", "looked at the stars",
          "baked sweet bread", "read old books", "played in the garden",
          "picked red apples"]
EVENTS = ["a big storm came", "it found a golden key",
          "a stranger knocked on the door", "the river rose very high",
          "a lost bird asked for help", "the lights of the town went out",
          "it heard a strange noise", "the snow did not stop"]
FRIENDS = ["an old owl", "a friendly dog", "a wise tree", "a little bee",
           "a tall giraffe", "a funny frog"]
DEEDS = ["found the way home", "made a warm fire",
         "built a strong bridge", "opened the secret door",
         "brought back the light", "shared its food with everyone"]
ENDINGS = ["From that day on, the {hero} was never lonely again.",
           "And they all lived happily ever after.",
           "The {hero} smiled, and all its friends smiled too.",
           "That night, the {hero} slept well and dreamed of {friend}."]


def story(rng: random.Random) -> str:
    """One tale: a hero, a place, a habit, a problem, a friend, an end."""
    hero, kind = rng.choice(HEROES), rng.choice(KINDS)
    place, friend = rng.choice(PLACES), rng.choice(FRIENDS)
    ending = rng.choice(ENDINGS).format(hero=hero, friend=friend)
    return (f"Once upon a time, there lived a {kind} {hero} {place}. "
            f"Every day, the {hero} {rng.choice(HABITS)}. "
            f"One day, {rng.choice(EVENTS)}. "
            f"The {hero} was afraid, but it asked {friend} for help. "
            f"Together they {rng.choice(DEEDS)}. {ending}")


def story_corpus(seed: int = 0, n_stories: int = 1000) -> str:
    """n_stories tales, each followed by <|endoftext|>."""
    if n_stories < 1:
        raise CorpusError(f"n_stories must be at least 1, got {n_stories}")
    rng = random.Random(seed)
    return "".join(story(rng) + END_OF_TEXT for _ in range(n_stories))
# --8<-- [end:stories]


# --8<-- [start:read_text]
def read_text(path: str | Path) -> str:
    """The text of a UTF-8 file, with a clear error if it cannot be used."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"no file at {path}")
    if not path.is_file():
        raise CorpusError(f"{path} is not a file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(
            f"{path} is not UTF-8 text (byte {data[error.start]:#04x} at "
            f"position {error.start}); convert it to UTF-8 first") from None
    if not text.strip():
        raise CorpusError(f"{path} is empty: there is nothing to train on")
    return text
# --8<-- [end:read_text]


def load_corpus(data: str) -> str:
    """"facts", "stories", or the path of a text file -> its text."""
    if data == "facts":
        return facts_corpus()
    if data == "stories":
        return story_corpus()
    return read_text(data)


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    facts = facts_corpus()
    print(f"{len(CAPITALS)} countries; the facts corpus has "
          f"{len(facts.splitlines()):,} sentences, {len(facts):,} characters:")
    print("\n".join(facts.splitlines()[:4]))
    stories = story_corpus()
    print(f"\n1,000 stories, {len(stories):,} characters; the first:")
    print(stories.split(END_OF_TEXT)[0])
