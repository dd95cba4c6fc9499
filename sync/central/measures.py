"""What each measurement is, for the people who read it: one table keyed by the measurement name the nodes send.

Names come from the node frame contract (DESIGN.md, "the node frame"; docs/protocol.md): ``[a-z0-9_]{1,32}``,
carrying their unit as a suffix (``_c``, ``_pct``, ``_cm``, ``_mm``, ``_v``, ``_a``, ``_w``, ``_wh``, ``_hz``,
``_hpa``, ``_ugm3``). The names of the project's own nodes are those firmware/ sends (``sonar.py``,
``rain.py``, ``dht22.py``, ``bme280.py``, ``pzem.py``, ``frame.py``). Each has a label in Bahasa Indonesia and
in English, and its Satu Data standard (Perpres 39/2019 Ps. 6: konsep, definisi, klasifikasi; the Indonesian
label is the konsep). A name not in the table is shown as it is.

Only what people read uses the labels (the back office's fleet, completeness, alert and chart pages, and the
titles and descriptions of the open-data packages); the machine-readable columns of the downloads, CKAN and
Open311 keep the names themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.vocabulary import SUMMED_MEASUREMENTS, UNIT_SYMBOLS

UNITS = UNIT_SYMBOLS  # suffix -> the unit's symbol (the frame contract's vocabulary)


@dataclass(frozen=True)
class Measure:
    """One measurement: its label in Bahasa Indonesia (``id``, also its Satu Data konsep) and English (``en``),
    the Satu Data ``definition`` (definisi) and ``classification`` (klasifikasi) in Indonesian, the definition
    in English (``definition_en``), and its ``unit`` when its name's suffix carries none (``mains_ok``: ``0/1``;
    ``power_factor``: ``cos φ``); "" takes the suffix's. ``decimals``: its precision, the decimals the nodes
    send it with (firmware/: sonar.py, rain.py, dht22.py, bme280.py, pzem.py; frame.py rounds any float to 3)."""

    id: str
    en: str
    definition: str
    classification: str
    definition_en: str
    unit: str = ""
    decimals: int = 3


MEASURES: dict[str, Measure] = {
    "water_cm": Measure("Tinggi muka air", "Water level",
                        "Tinggi permukaan air di atas titik nol pos pantau.", "Kebencanaan",
                        "Height of the water surface above the gauge's zero.", decimals=1),
    "distance_cm": Measure("Jarak ke permukaan", "Distance to the surface",
                           "Jarak dari sensor ultrasonik ke permukaan air.", "Kebencanaan",
                           "Distance from the ultrasonic sensor down to the water surface.", decimals=1),
    "rain_mm": Measure("Curah hujan", "Rainfall",
                       "Tinggi air hujan yang tertampung pada penakar hujan.", "Meteorologi",
                       "Depth of the rain caught by the rain gauge.", decimals=4),
    "temp_c": Measure("Suhu udara", "Air temperature", "Suhu udara di sekitar sensor.", "Meteorologi",
                      "Temperature of the air around the sensor.", decimals=2),
    "rh_pct": Measure("Kelembapan relatif", "Relative humidity",
                      "Kelembapan relatif udara di sekitar sensor.", "Meteorologi",
                      "Relative humidity of the air around the sensor.", decimals=1),
    "pressure_hpa": Measure("Tekanan udara", "Air pressure", "Tekanan atmosfer di lokasi sensor.", "Meteorologi",
                            "Atmospheric pressure at the sensor's site.", decimals=2),
    "pm25_ugm3": Measure("Debu halus PM2,5", "Fine dust PM2.5",
                         "Kadar partikel berdiameter 2,5 mikrometer atau kurang di udara.", "Lingkungan hidup",
                         "Concentration in the air of particles 2.5 micrometres across or smaller.", decimals=1),
    "mains_v": Measure("Tegangan listrik", "Mains voltage",
                       "Tegangan jaringan listrik PLN di lokasi; 0 V: padam.", "Energi",
                       "Voltage of the PLN mains at the site; 0 V: a power cut.", decimals=1),
    "mains_ok": Measure("Status listrik PLN", "Mains power status",
                        "Ada tidaknya listrik PLN di lokasi menurut node daya: 1 bila menyala, 0 bila padam "
                        "(tegangan nol atau meteran tidak menjawab).", "Energi",
                        "Whether the PLN mains is on at the site, as the power node sees it: 1 on, 0 off (no "
                        "voltage, or the meter does not answer).", "0/1", decimals=0),
    "current_a": Measure("Arus listrik", "Current",
                         "Arus yang mengalir pada jaringan listrik yang dipantau.", "Energi",
                         "Current flowing in the monitored circuit.", decimals=3),
    "power_w": Measure("Daya listrik", "Power", "Daya aktif pada jaringan listrik yang dipantau.", "Energi",
                       "Active power in the monitored circuit.", decimals=1),
    "energy_wh": Measure("Energi listrik", "Energy", "Energi aktif kumulatif yang tercatat meteran.", "Energi",
                         "Cumulative active energy recorded by the meter.", decimals=0),
    "freq_hz": Measure("Frekuensi listrik", "Mains frequency", "Frekuensi jaringan listrik PLN di lokasi.",
                       "Energi", "Frequency of the PLN mains at the site.", decimals=1),
    "power_factor": Measure("Faktor daya", "Power factor",
                            "Perbandingan daya aktif terhadap daya semu (cos φ) pada jaringan listrik yang "
                            "dipantau, dari 0 sampai 1; makin dekat ke 1 makin efisien.", "Energi",
                            "Ratio of active to apparent power (cos φ) in the monitored circuit, from 0 to 1; "
                            "the closer to 1, the more efficient.", "cos φ", decimals=2),
    "bat_v": Measure("Tegangan baterai", "Battery voltage", "Tegangan baterai node sensor.", "Perangkat",
                     "Voltage of the sensor node's battery.", decimals=2),
}  # fmt: skip


def unit_of(name: str) -> str:
    """The unit symbol of measurement ``name`` from its suffix (``water_cm`` -> ``cm``), else the one its entry
    in :data:`MEASURES` gives (``mains_ok`` -> ``0/1``, ``power_factor`` -> ``cos φ``); "" for neither."""
    known = MEASURES.get(name)
    if known and known.unit:
        return known.unit
    return UNITS.get(name.rsplit("_", 1)[-1], "") if "_" in name else ""


DEFAULT_DECIMALS = 3  # frame.py's rounding of any float a node sends


SUMMED = SUMMED_MEASUREMENTS  # gateway/vocabulary.py: readings that add up over a period


def summed(name: str) -> bool:
    """Whether the readings of measurement ``name`` add up over a period (:data:`SUMMED`)."""
    return name in SUMMED


def decimals_of(name: str) -> int:
    """The precision of measurement ``name`` in decimals (its entry's; :data:`DEFAULT_DECIMALS` otherwise)."""
    known = MEASURES.get(name)
    return known.decimals if known else DEFAULT_DECIMALS


def rounded(name: str, value: float | None, extra: int = 0) -> float | None:
    """``value`` of measurement ``name`` rounded to its precision plus ``extra`` decimals (a mean is given one
    finer than its readings), so that binary float noise (``12.300000000000001``) never reaches a reader;
    None stays None."""
    return None if value is None else round(value, decimals_of(name) + extra)


def label(name: str, lang: str = "id") -> str:
    """What people read for measurement ``name`` in ``lang`` (``id`` or ``en``; anything else is ``id``): its
    label with its unit, ``Tinggi muka air (cm)``, ``Faktor daya (cos φ)``; a name not in
    :data:`MEASURES` as it is (``water_level_cm``)."""
    known = MEASURES.get(name)
    if known is None:
        return name
    text = known.en if lang == "en" else known.id
    unit = unit_of(name)
    return f"{text} ({unit})" if unit else text
