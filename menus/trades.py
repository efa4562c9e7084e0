"""The 13 trades of the national register of handicrafts (RNA), as data.

`code` is what the RNA import and the registration requests store (`artisans.trade`,
`registration_requests.trade`); the names are the official ones in each language (docs/
glossary.md), so they live here rather than in the catalogues: one row per trade, and a
new trade is one more row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trade:
    code: str
    name_ar: str
    name_fr: str

    def name(self, language: str) -> str:
        return self.name_ar if language == "ar" else self.name_fr


TRADES: tuple[Trade, ...] = (
    Trade("pottery", "الفخار والخزف", "Poterie et céramique"),
    Trade("weaving", "النسيج والزرابي", "Tissage et tapis"),
    Trade("leather", "الجلد", "Cuir"),
    Trade("wood", "الخشب", "Bois"),
    Trade("metal", "المعادن", "Métaux"),
    Trade("jewellery", "الحلي", "Bijouterie"),
    Trade("embroidery", "الطرز", "Broderie"),
    Trade("tailoring", "الخياطة التقليدية", "Couture traditionnelle"),
    Trade("basketry", "صناعة السلال", "Vannerie"),
    Trade("zellige", "الزليج والحجر", "Zellige et pierre"),
    Trade("plaster", "النقش على الجبس", "Stuc sculpté"),
    Trade("building", "البناء التقليدي", "Construction traditionnelle"),
    Trade("other", "حرف أخرى", "Autres métiers"),
)
BY_CODE = {trade.code: trade for trade in TRADES}


def trade_name(code: str, language: str) -> str:
    """The trade's name in `language`; an unknown code (an older import) as it is."""
    trade = BY_CODE.get(code)
    return trade.name(language) if trade is not None else code
