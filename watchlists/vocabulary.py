"""The makes and models the description parser recognises: the classifiers' label sets plus a built-in list.

The classifiers' labels are the authority (a make the make classifier knows, a make+model+year label such as
``"Chevrolet Silverado 1500 Extended Cab 2012"``); a built-in list of common makes and models lets ``watchlist
parse`` work without any model loaded. Nicknames come from :data:`watchlists.aliases.MAKE_ALIASES`.

Some make and model names are everyday words or names ("Smart", "Mini", "Lincoln", "Escape", "Focus"); the parser
takes those only in a vehicle context (see :data:`AMBIGUOUS_WORDS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from watchlists.aliases import MAKE_ALIASES, MULTIWORD_MAKES, compact, make_key, normalize
from watchlists.make_model_labels import BODY_WORDS, parse_make_model_label

MAX_PHRASE_WORDS = 4

BUILTIN_MAKES: tuple[str, ...] = (
    "Acura",
    "Alfa Romeo",
    "AM General",
    "Aston Martin",
    "Audi",
    "Bentley",
    "BMW",
    "Buick",
    "Cadillac",
    "Chevrolet",
    "Chrysler",
    "Citroen",
    "Dacia",
    "Daewoo",
    "Datsun",
    "Dodge",
    "Eagle",
    "Ferrari",
    "Fiat",
    "Fisker",
    "Ford",
    "Freightliner",
    "Genesis",
    "Geo",
    "GMC",
    "Holden",
    "Honda",
    "Hummer",
    "Hyundai",
    "Infiniti",
    "International",
    "Isuzu",
    "Jaguar",
    "Jeep",
    "Kenworth",
    "Kia",
    "Lamborghini",
    "Land Rover",
    "Lexus",
    "Lincoln",
    "Lotus",
    "Mack",
    "Maserati",
    "Maybach",
    "Mazda",
    "McLaren",
    "Mercedes-Benz",
    "Mercury",
    "Mini",
    "Mitsubishi",
    "Nissan",
    "Oldsmobile",
    "Opel",
    "Peterbilt",
    "Peugeot",
    "Plymouth",
    "Polestar",
    "Pontiac",
    "Porsche",
    "Ram",
    "Renault",
    "Rivian",
    "Rolls-Royce",
    "Saab",
    "Saturn",
    "Scion",
    "Seat",
    "Skoda",
    "Smart",
    "Subaru",
    "Suzuki",
    "Tesla",
    "Toyota",
    "Vauxhall",
    "Volkswagen",
    "Volvo",
)

BUILTIN_MODELS: dict[str, tuple[str, ...]] = {
    "Acura": ("MDX", "RDX", "TLX", "TL", "TSX", "ILX", "Integra", "RL", "ZDX"),
    "Audi": ("A3", "A4", "A5", "A6", "A8", "Q3", "Q5", "Q7", "S4", "S5", "TT", "R8", "e-tron"),
    "BMW": ("1 Series", "3 Series", "5 Series", "7 Series", "X1", "X3", "X5", "X6", "M3", "M5", "Z4", "i3"),
    "Buick": ("Enclave", "Encore", "LaCrosse", "Regal", "Verano", "Lucerne"),
    "Cadillac": ("Escalade", "CTS", "ATS", "SRX", "XT5", "DeVille"),
    "Chevrolet": (
        "Silverado",
        "Silverado 1500",
        "Silverado 2500",
        "Colorado",
        "Tahoe",
        "Suburban",
        "Equinox",
        "Traverse",
        "Malibu",
        "Impala",
        "Cruze",
        "Camaro",
        "Corvette",
        "Spark",
        "Sonic",
        "Trax",
        "Blazer",
        "TrailBlazer",
        "Express",
        "Avalanche",
        "Cobalt",
        "Monte Carlo",
        "Bolt",
        "Volt",
        "HHR",
    ),
    "Chrysler": ("300", "Pacifica", "Town and Country", "Sebring", "PT Cruiser", "Voyager", "Aspen", "Crossfire"),
    "Dodge": (
        "Ram",
        "Ram 1500",
        "Charger",
        "Challenger",
        "Durango",
        "Journey",
        "Grand Caravan",
        "Caravan",
        "Dakota",
        "Neon",
        "Avenger",
        "Dart",
        "Caliber",
        "Magnum",
        "Sprinter",
    ),
    "Ford": (
        "F-150",
        "F-250",
        "F-350",
        "F-450",
        "Ranger",
        "Maverick",
        "Explorer",
        "Expedition",
        "Escape",
        "Edge",
        "Bronco",
        "Mustang",
        "Focus",
        "Fusion",
        "Fiesta",
        "Taurus",
        "Crown Victoria",
        "Transit",
        "E-Series",
        "Econoline",
        "Flex",
        "Freestar",
        "EcoSport",
    ),
    "GMC": ("Sierra", "Sierra 1500", "Canyon", "Yukon", "Acadia", "Terrain", "Savana", "Envoy"),
    "Honda": ("Civic", "Accord", "CR-V", "HR-V", "Pilot", "Odyssey", "Fit", "Ridgeline", "Element", "Passport"),
    "Hummer": ("H1", "H2", "H3"),
    "Hyundai": ("Elantra", "Sonata", "Accent", "Tucson", "Santa Fe", "Kona", "Palisade", "Veloster", "Genesis"),
    "Infiniti": ("G35", "G37", "Q50", "QX56", "QX60", "FX35"),
    "Jeep": ("Wrangler", "Grand Cherokee", "Cherokee", "Compass", "Patriot", "Liberty", "Renegade", "Gladiator"),
    "Kia": ("Optima", "K5", "Sorento", "Sportage", "Soul", "Forte", "Rio", "Telluride", "Sedona", "Niro"),
    "Land Rover": ("Range Rover", "Range Rover Sport", "Discovery", "Defender", "LR2", "LR3", "LR4"),
    "Lexus": ("RX", "RX 350", "ES", "ES 350", "IS", "GX", "LX", "NX"),
    "Lincoln": ("Navigator", "Town Car", "MKZ", "MKX", "Continental", "Aviator"),
    "Mazda": ("Mazda3", "Mazda6", "CX-3", "CX-5", "CX-9", "MX-5", "Miata", "Tribute", "RX-8"),
    "Mercedes-Benz": (
        "C-Class",
        "E-Class",
        "S-Class",
        "GLE",
        "GLC",
        "ML",
        "G-Class",
        "SL-Class",
        "Sprinter",
        "CLA",
    ),
    "Mini": ("Cooper", "Countryman"),
    "Smart": ("fortwo", "forfour"),
    "Mitsubishi": ("Lancer", "Outlander", "Eclipse", "Galant", "Mirage", "Montero"),
    "Nissan": (
        "Altima",
        "Sentra",
        "Maxima",
        "Versa",
        "Rogue",
        "Murano",
        "Pathfinder",
        "Frontier",
        "Titan",
        "Armada",
        "Leaf",
        "Juke",
        "Quest",
        "NV",
        "370Z",
        "350Z",
        "240SX",
    ),
    "Pontiac": ("Grand Prix", "Grand Am", "G6", "Vibe", "Firebird", "Aztek"),
    "Porsche": ("911", "Cayenne", "Macan", "Panamera", "Boxster", "Cayman"),
    "Ram": ("1500", "2500", "3500", "ProMaster", "C/V"),
    "Subaru": ("Outback", "Forester", "Impreza", "Legacy", "Crosstrek", "WRX", "Ascent"),
    "Tesla": ("Model S", "Model 3", "Model X", "Model Y", "Cybertruck"),
    "Toyota": (
        "Camry",
        "Corolla",
        "Prius",
        "RAV4",
        "Highlander",
        "4Runner",
        "Tacoma",
        "Tundra",
        "Sienna",
        "Sequoia",
        "Avalon",
        "Yaris",
        "Land Cruiser",
        "FJ Cruiser",
        "Venza",
        "Matrix",
    ),
    "Volkswagen": ("Golf", "Jetta", "Passat", "Beetle", "Tiguan", "Atlas", "Touareg", "Polo", "GTI"),
    "Volvo": ("XC90", "XC60", "XC40", "S60", "S80", "V70", "240", "C30"),
}


def _word_set(text: str) -> frozenset[str]:
    return frozenset(compact(word) for word in text.split())


AMBIGUOUS_WORDS: frozenset[str] = _word_set(
    # makes that are everyday words or names (also street and place names)
    "ac adam aero apollo asia bond cat checker clan dc dennis dome dr ds eagle elfin genesis geo healey henry "
    "hudson imperial international invicta iso jensen kaiser lincoln lister lloyd lotus mack man mega mercury "
    "meteor mini morgan morris nash noble panther peel peerless premier prince puma ram riley rover saturn seat "
    "shelby singer smart standard stutz talbot triumph tucker ultima vector vortex wanderer willys zimmer austin "
    # models that are everyday words
    "accent accord atlas avalanche aviator blazer bolt bronco caliber challenger charger civic colorado compass "
    "continental cooper countryman crossfire dart defender discovery edge element equinox escape expedition "
    "explorer express fit flex focus frontier fusion gladiator journey juke leaf legacy liberty magnum matrix "
    "maverick mirage navigator neon outback passport patriot pilot polo quest ranger regal rio rogue soul spark "
    "sprinter titan transit vibe voyager volt"
)
"""Make and model names that are also ordinary words; the parser needs a vehicle context to take them."""


@dataclass(frozen=True)
class Vocabulary:
    """Makes and models by comparison key.

    Attributes:
        makes: compact name or alias → the make's display name (``"chevy"`` → ``"Chevrolet"``).
        models: :func:`make_key` of a make → {compact model phrase → display name}.
        model_makes: compact model phrase → the display names of the makes that have it.
    """

    makes: Mapping[str, str]
    models: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    model_makes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        make_labels: Iterable[str] = (),
        make_model_labels: Iterable[str] = (),
        *,
        builtin: bool = True,
    ) -> Vocabulary:
        """A vocabulary from classifier label sets, on top of the built-in list (unless ``builtin`` is False).

        Args:
            make_labels: labels of a ``make`` head (``"Chevrolet"``, ``"Land Rover"`` ...).
            make_model_labels: labels of a ``make_model`` head (``"Chevrolet Silverado 1500 Crew Cab 2012"`` or
                ``"Chevrolet|Silverado 1500 Crew Cab|2012"``): each gives its make, and its model without the body
                words and year, with every shorter leading phrase (``"Silverado 1500"``, ``"Silverado"``).
        """
        display: dict[str, str] = {}
        models: dict[str, dict[str, str]] = {}

        def add_make(name: str) -> None:
            display.setdefault(make_key(name), name)

        def add_model(make: str, model_words: Sequence[str]) -> None:
            for phrase in _model_phrases(model_words):
                models.setdefault(make_key(make), {}).setdefault(compact(phrase), phrase)

        if builtin:
            for make in (*BUILTIN_MAKES, *MULTIWORD_MAKES, *MAKE_ALIASES):
                add_make(make)
            for make, names in BUILTIN_MODELS.items():
                for name in names:
                    add_model(make, [name])
        for label in make_labels:
            if compact(label):
                add_make(label.strip())
        known = frozenset(compact(name) for name in display.values() if " " in name or "-" in name)
        for label in make_model_labels:
            parsed = parse_make_model_label(label, known)
            if not parsed.make:
                continue
            make_name = display.get(parsed.make) or _make_words(label, parsed.model, parsed.year)
            add_make(make_name)
            add_model(make_name, _original_words(label, parsed.model))
        return cls(_with_aliases(display), models, _model_makes(models, display))

    def make(self, phrase: str) -> str | None:
        """The display name of the make a phrase names (``"VW"`` → ``"Volkswagen"``), or None."""
        key = compact(phrase)
        return self.makes.get(key) or self.makes.get(make_key(phrase))

    def model(self, make: str, phrase: str) -> str | None:
        """The display name of ``make``'s model a phrase names (``("Honda", "crv")`` → ``"CR-V"``), or None."""
        return self.models.get(make_key(make), {}).get(compact(phrase))


def _original_words(label: str, model: Sequence[str]) -> list[str]:
    """The model's words as the label writes them (``("cr", "v")`` of ``"Honda CR-V 2012"`` → ``["CR-V"]``)."""
    if "|" in label:
        parts = label.split("|")
        return parts[1].split() if len(parts) > 1 else []
    words = label.split()
    wanted = "".join(model)
    # The model is a run of the label's last words (before the year): find the one whose compact form it is.
    for start in range(len(words)):
        for end in range(len(words), start, -1):
            if compact(" ".join(words[start:end])) == wanted:
                return words[start:end]
    return [w for w in normalize(" ".join(model)).split()]


def _make_words(label: str, model: Sequence[str], year: int | None) -> str:
    """The make part of a ``"Make Model Year"`` label, as written."""
    if "|" in label:
        return label.split("|", 1)[0].strip()
    words = label.split()
    if year is not None and words and words[-1] == str(year):
        words = words[:-1]
    model_words = _original_words(" ".join(words), model) if model else []
    return " ".join(words[: len(words) - len(model_words)]) or words[0]


def _model_phrases(model_words: Sequence[str]) -> list[str]:
    """The phrases a model is known by: its words without trailing body words ("Crew Cab", "SUV": they are no
    model), and every shorter leading phrase ("Silverado 1500", "Silverado"), but never a bare leading number."""
    words = list(model_words)
    stripped = True
    while words and stripped:
        stripped = False
        for count in (3, 2, 1):
            if len(words) > count and compact(" ".join(words[-count:])) in BODY_WORDS:
                del words[-count:]
                stripped = True
                break
    phrases = []
    for count in range(len(words), 0, -1):
        if count == 1 and words[0].isdigit() and len(words) > 1:
            continue  # "3" of "3 Series" is no model on its own
        phrases.append(" ".join(words[:count]))
    return phrases


def _with_aliases(display: Mapping[str, str]) -> dict[str, str]:
    """Make key → display name, plus the nicknames of the makes present (``"chevy"`` → ``"Chevrolet"``)."""
    makes = dict(display)
    for canonical, aliases in MAKE_ALIASES.items():
        if make_key(canonical) in display:
            for alias in aliases:
                makes.setdefault(compact(alias), display[make_key(canonical)])
    return makes


def _model_makes(models: Mapping[str, Mapping[str, str]], display: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Model phrase → the display names of the makes that have it."""
    owners: dict[str, list[str]] = {}
    for make, phrases in models.items():
        for phrase in phrases:
            owners.setdefault(phrase, []).append(display.get(make, make))
    return {phrase: tuple(names) for phrase, names in owners.items()}


DEFAULT_VOCABULARY = Vocabulary.build()
"""The built-in makes and models, with the alias table."""
