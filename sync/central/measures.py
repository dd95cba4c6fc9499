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

from gateway.vocabulary import UNIT_SYMBOLS

UNITS = UNIT_SYMBOLS  # suffix -> the unit's symbol (the frame contract's vocabulary)


@dataclass(frozen=True)
class Measure:
    """One measurement: its label in Bahasa Indonesia (``id``, also its Satu Data konsep) and English (``en``),
    and the Satu Data ``definition`` (definisi) and ``classification`` (klasifikasi), both in Indonesian."""

    id: str
    en: str
    definition: str
    classification: str


MEASURES: dict[str, Measure] = {
    "water_cm": Measure("Tinggi muka air", "Water level",
                        "Tinggi permukaan air di atas titik nol pos pantau.", "Kebencanaan"),
    "distance_cm": Measure("Jarak ke permukaan", "Distance to the surface",
                           "Jarak dari sensor ultrasonik ke permukaan air.", "Kebencanaan"),
    "rain_mm": Measure("Curah hujan", "Rainfall",
                       "Tinggi air hujan yang tertampung pada penakar hujan.", "Meteorologi"),
    "temp_c": Measure("Suhu udara", "Air temperature", "Suhu udara di sekitar sensor.", "Meteorologi"),
    "rh_pct": Measure("Kelembapan relatif", "Relative humidity",
                      "Kelembapan relatif udara di sekitar sensor.", "Meteorologi"),
    "pressure_hpa": Measure("Tekanan udara", "Air pressure", "Tekanan atmosfer di lokasi sensor.", "Meteorologi"),
    "pm25_ugm3": Measure("Debu halus PM2,5", "Fine dust PM2.5",
                         "Kadar partikel berdiameter 2,5 mikrometer atau kurang di udara.", "Lingkungan hidup"),
    "mains_v": Measure("Tegangan listrik", "Mains voltage",
                       "Tegangan jaringan listrik PLN di lokasi; 0 V: padam.", "Energi"),
    "mains_ok": Measure("Listrik PLN menyala", "Mains power on",
                        "1 bila listrik PLN ada di lokasi, 0 bila padam.", "Energi"),
    "current_a": Measure("Arus listrik", "Current",
                         "Arus yang mengalir pada jaringan listrik yang dipantau.", "Energi"),
    "power_w": Measure("Daya listrik", "Power", "Daya aktif pada jaringan listrik yang dipantau.", "Energi"),
    "energy_wh": Measure("Energi listrik", "Energy", "Energi aktif kumulatif yang tercatat meteran.", "Energi"),
    "freq_hz": Measure("Frekuensi listrik", "Mains frequency", "Frekuensi jaringan listrik PLN di lokasi.",
                       "Energi"),
    "power_factor": Measure("Faktor daya", "Power factor",
                            "Perbandingan daya aktif terhadap daya semu pada jaringan yang dipantau.", "Energi"),
    "bat_v": Measure("Tegangan baterai", "Battery voltage", "Tegangan baterai node sensor.", "Perangkat"),
}  # fmt: skip


def unit_of(name: str) -> str:
    """The unit symbol of measurement ``name`` from its suffix (``water_cm`` -> ``cm``); "" when it has none
    the contract knows (``mains_ok``, ``power_factor``)."""
    return UNITS.get(name.rsplit("_", 1)[-1], "") if "_" in name else ""


def label(name: str, lang: str = "id") -> str:
    """What people read for measurement ``name`` in ``lang`` (``id`` or ``en``; anything else is ``id``): its
    label with its unit, ``Tinggi muka air (cm)``; a unitless one without, ``Faktor daya``; a name not in
    :data:`MEASURES` as it is (``water_level_cm``)."""
    known = MEASURES.get(name)
    if known is None:
        return name
    text = known.en if lang == "en" else known.id
    unit = unit_of(name)
    return f"{text} ({unit})" if unit else text
