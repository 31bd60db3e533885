"""ICAO 24-bit aircraft address -> State of registry (ISO 3166 code, name, flag). Pure.

Every Mode S transponder broadcasts a 24-bit address (``icao24``, six hex digits). ICAO
allocates those addresses to States in blocks; a State assigns them to the aircraft on its
register. So the block tells an alert desk which State an aircraft is registered in, even
when no registration or operator is known: ``7278a2`` is a DPRK aircraft, ``1551e0`` Russian.

Where the table comes from
--------------------------
- The State blocks are the allocation table in ICAO Annex 10 Volume III, Part I, Appendix to
  Chapter 9 ("A world-wide scheme for the allocation, assignment and application of aircraft
  addresses"), Table 9-1, as reproduced in the receiver projects dump1090-fa / tar1090
  (``html/flags.js``: "Mostly generated from the assignment table in the appendix to Chapter
  9 of Annex 10 Vol III, Second Edition, July 2007 (with amendments through 88-A)") and
  cross-checked block by block against Virtual Radar Server's ``standing-data``
  (``code-blocks/schema-01/code-blocks.csv``). Where they disagree the Annex's bit patterns
  win: the small States' blocks are 1,024 addresses (14 fixed bits, e.g. Botswana
  0x030000-0x0303FF), not the 2,048 that newer tar1090 versions use.
- The Korean blocks follow the Annex: Republic of Korea 0x718000-0x71FFFF, DPRK
  0x720000-0x727FFF. Some receiver projects' flag tables have labelled 0x718000-0x71FFFF as
  North Korea; that is wrong, and the tests pin it.
- States allocated blocks after the 2007 edition, as carried by tar1090 (Andorra, Dominica,
  Saint Kitts and Nevis, South Sudan, Timor-Leste, Tuvalu), and Malta's enlarged block
  (0x4D2000-0x4D2FFF, in use since 2022: VRS standing-data and jet1090 PR #440).
- Taiwan (0x899000-0x8993FF) is not listed by ICAO but is used in practice; it is included
  so Taiwanese aircraft are not reported as unknown.
- Nested allocations are not in the Annex, which allocates only to States; each is a
  sub-allocation made by the State itself and comes from observation:
  Hong Kong and Macao inside China's 0x780000-0x7BFFFF (Hong Kong 0x789000-0x789FFF from
  tar1090; Hong Kong 0x780200-0x78023F, 0x780A00-0x780A7F and Macao 0x780338-0x780347 from VRS
  standing-data), and the UK's Crown Dependencies and Overseas Territories inside
  0x400000-0x43FFFF (from tar1090).

Lookup rule: the most specific (smallest) block containing the address wins, so a carve-out
beats its parent block. ICAO's own blocks (0xF00000-0xF07FFF temporary, 0xF09000-0xF093FF
special use) and unallocated space give ``None``.

Out of scope: registration decoding (``N12345`` from an address), military sub-ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALLOCATIONS", "Allocation", "Country", "country_of", "flag_emoji", "parse_icao24"]

#: The largest valid address: 24 bits.
_MAX_ADDRESS = 0xFFFFFF


@dataclass(frozen=True, slots=True)
class Country:
    """A State (or territory) of registry: ISO 3166-1 alpha-2 ``code``, English ``name`` and
    its ``flag`` emoji (two regional-indicator symbols)."""

    code: str
    name: str
    flag: str


@dataclass(frozen=True, slots=True)
class Allocation:
    """One block of addresses, ``start`` to ``end`` inclusive, allocated to ``country``."""

    start: int
    end: int
    country: Country

    @property
    def size(self) -> int:
        """How many addresses the block holds."""
        return self.end - self.start + 1

    def __contains__(self, address: object) -> bool:
        return isinstance(address, int) and self.start <= address <= self.end


def flag_emoji(code: str) -> str:
    """ISO 3166-1 alpha-2 code -> flag emoji (``"KP"`` -> the DPRK flag)."""
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError(f"not an ISO 3166-1 alpha-2 code: {code!r}")
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


# start, end (inclusive), ISO 3166-1 alpha-2, name. Ordered by address; nested blocks follow
# their parent. Sources per block are in the module docstring.
_TABLE = """
004000 0043FF ZW Zimbabwe
006000 006FFF MZ Mozambique
008000 00FFFF ZA South Africa
010000 017FFF EG Egypt
018000 01FFFF LY Libya
020000 027FFF MA Morocco
028000 02FFFF TN Tunisia
030000 0303FF BW Botswana
032000 032FFF BI Burundi
034000 034FFF CM Cameroon
035000 0353FF KM Comoros
036000 036FFF CG Congo
038000 038FFF CI Côte d'Ivoire
03E000 03EFFF GA Gabon
040000 040FFF ET Ethiopia
042000 042FFF GQ Equatorial Guinea
044000 044FFF GH Ghana
046000 046FFF GN Guinea
048000 0483FF GW Guinea-Bissau
04A000 04A3FF LS Lesotho
04C000 04CFFF KE Kenya
050000 050FFF LR Liberia
054000 054FFF MG Madagascar
058000 058FFF MW Malawi
05A000 05A3FF MV Maldives
05C000 05CFFF ML Mali
05E000 05E3FF MR Mauritania
060000 0603FF MU Mauritius
062000 062FFF NE Niger
064000 064FFF NG Nigeria
068000 068FFF UG Uganda
06A000 06A3FF QA Qatar
06C000 06CFFF CF Central African Republic
06E000 06EFFF RW Rwanda
070000 070FFF SN Senegal
074000 0743FF SC Seychelles
076000 0763FF SL Sierra Leone
078000 078FFF SO Somalia
07A000 07A3FF SZ Eswatini
07C000 07CFFF SD Sudan
080000 080FFF TZ Tanzania
084000 084FFF TD Chad
088000 088FFF TG Togo
08A000 08AFFF ZM Zambia
08C000 08CFFF CD DR Congo
090000 090FFF AO Angola
094000 0943FF BJ Benin
096000 0963FF CV Cabo Verde
098000 0983FF DJ Djibouti
09A000 09AFFF GM Gambia
09C000 09CFFF BF Burkina Faso
09E000 09E3FF ST São Tomé and Príncipe
0A0000 0A7FFF DZ Algeria
0A8000 0A8FFF BS Bahamas
0AA000 0AA3FF BB Barbados
0AB000 0AB3FF BZ Belize
0AC000 0ACFFF CO Colombia
0AE000 0AEFFF CR Costa Rica
0B0000 0B0FFF CU Cuba
0B2000 0B2FFF SV El Salvador
0B4000 0B4FFF GT Guatemala
0B6000 0B6FFF GY Guyana
0B8000 0B8FFF HT Haiti
0BA000 0BAFFF HN Honduras
0BC000 0BC3FF VC Saint Vincent and the Grenadines
0BE000 0BEFFF JM Jamaica
0C0000 0C0FFF NI Nicaragua
0C2000 0C2FFF PA Panama
0C4000 0C4FFF DO Dominican Republic
0C6000 0C6FFF TT Trinidad and Tobago
0C8000 0C8FFF SR Suriname
0CA000 0CA3FF AG Antigua and Barbuda
0CC000 0CC3FF GD Grenada
0D0000 0D7FFF MX Mexico
0D8000 0DFFFF VE Venezuela
100000 1FFFFF RU Russia
201000 2013FF NA Namibia
202000 2023FF ER Eritrea
300000 33FFFF IT Italy
340000 37FFFF ES Spain
380000 3BFFFF FR France
3C0000 3FFFFF DE Germany
400000 43FFFF GB United Kingdom
400000 4001BF BM Bermuda
4001C0 4001FF KY Cayman Islands
400300 4003FF TC Turks and Caicos Islands
424135 4241F2 KY Cayman Islands
424200 4246FF BM Bermuda
424700 424899 KY Cayman Islands
424B00 424BFF IM Isle of Man
43BE00 43BEFF BM Bermuda
43E700 43EAFD IM Isle of Man
43EAFE 43EEFF GG Guernsey
440000 447FFF AT Austria
448000 44FFFF BE Belgium
450000 457FFF BG Bulgaria
458000 45FFFF DK Denmark
460000 467FFF FI Finland
468000 46FFFF GR Greece
470000 477FFF HU Hungary
478000 47FFFF NO Norway
480000 487FFF NL Netherlands
488000 48FFFF PL Poland
490000 497FFF PT Portugal
498000 49FFFF CZ Czechia
4A0000 4A7FFF RO Romania
4A8000 4AFFFF SE Sweden
4B0000 4B7FFF CH Switzerland
4B8000 4BFFFF TR Türkiye
4C0000 4C7FFF RS Serbia
4C8000 4C83FF CY Cyprus
4CA000 4CAFFF IE Ireland
4CC000 4CCFFF IS Iceland
4D0000 4D03FF LU Luxembourg
4D2000 4D2FFF MT Malta
4D4000 4D43FF MC Monaco
500000 5003FF SM San Marino
501000 5013FF AL Albania
501C00 501FFF HR Croatia
502C00 502FFF LV Latvia
503C00 503FFF LT Lithuania
504C00 504FFF MD Moldova
505C00 505FFF SK Slovakia
506C00 506FFF SI Slovenia
507C00 507FFF UZ Uzbekistan
508000 50FFFF UA Ukraine
510000 5103FF BY Belarus
511000 5113FF EE Estonia
512000 5123FF MK North Macedonia
513000 5133FF BA Bosnia and Herzegovina
514000 5143FF GE Georgia
515000 5153FF TJ Tajikistan
516000 5163FF ME Montenegro
600000 6003FF AM Armenia
600800 600BFF AZ Azerbaijan
601000 6013FF KG Kyrgyzstan
601800 601BFF TM Turkmenistan
680000 6803FF BT Bhutan
681000 6813FF FM Micronesia
682000 6823FF MN Mongolia
683000 6833FF KZ Kazakhstan
684000 6843FF PW Palau
700000 700FFF AF Afghanistan
702000 702FFF BD Bangladesh
704000 704FFF MM Myanmar
706000 706FFF KW Kuwait
708000 708FFF LA Laos
70A000 70AFFF NP Nepal
70C000 70C3FF OM Oman
70E000 70EFFF KH Cambodia
710000 717FFF SA Saudi Arabia
718000 71FFFF KR South Korea
720000 727FFF KP North Korea
728000 72FFFF IQ Iraq
730000 737FFF IR Iran
738000 73FFFF IL Israel
740000 747FFF JO Jordan
748000 74FFFF LB Lebanon
750000 757FFF MY Malaysia
758000 75FFFF PH Philippines
760000 767FFF PK Pakistan
768000 76FFFF SG Singapore
770000 777FFF LK Sri Lanka
778000 77FFFF SY Syria
780000 7BFFFF CN China
780200 78023F HK Hong Kong
780338 780347 MO Macao
780A00 780A7F HK Hong Kong
789000 789FFF HK Hong Kong
7C0000 7FFFFF AU Australia
800000 83FFFF IN India
840000 87FFFF JP Japan
880000 887FFF TH Thailand
888000 88FFFF VN Viet Nam
890000 890FFF YE Yemen
894000 894FFF BH Bahrain
895000 8953FF BN Brunei
896000 896FFF AE United Arab Emirates
897000 8973FF SB Solomon Islands
898000 898FFF PG Papua New Guinea
899000 8993FF TW Taiwan
8A0000 8A7FFF ID Indonesia
900000 9003FF MH Marshall Islands
901000 9013FF CK Cook Islands
902000 9023FF WS Samoa
A00000 AFFFFF US United States
C00000 C3FFFF CA Canada
C80000 C87FFF NZ New Zealand
C88000 C88FFF FJ Fiji
C8A000 C8A3FF NR Nauru
C8C000 C8C3FF LC Saint Lucia
C8D000 C8D3FF TO Tonga
C8E000 C8E3FF KI Kiribati
C90000 C903FF VU Vanuatu
C91000 C913FF AD Andorra
C92000 C923FF DM Dominica
C93000 C933FF KN Saint Kitts and Nevis
C94000 C943FF SS South Sudan
C95000 C953FF TL Timor-Leste
C97000 C973FF TV Tuvalu
E00000 E3FFFF AR Argentina
E40000 E7FFFF BR Brazil
E80000 E80FFF CL Chile
E84000 E84FFF EC Ecuador
E88000 E88FFF PY Paraguay
E8C000 E8CFFF PE Peru
E90000 E90FFF UY Uruguay
E94000 E94FFF BO Bolivia
"""


def _build(table: str) -> tuple[Allocation, ...]:
    countries: dict[str, Country] = {}
    out: list[Allocation] = []
    for line in table.strip().splitlines():
        start, end, code, name = line.split(maxsplit=3)
        country = countries.setdefault(code, Country(code, name, flag_emoji(code)))
        out.append(Allocation(int(start, 16), int(end, 16), country))
    return tuple(out)


#: Every block, in address order (nested blocks after their parent).
ALLOCATIONS: tuple[Allocation, ...] = _build(_TABLE)

# Smallest first, so the first block that contains an address is the most specific one.
_BY_SIZE: tuple[Allocation, ...] = tuple(sorted(ALLOCATIONS, key=lambda a: (a.size, a.start)))


def parse_icao24(icao24: str | int) -> int | None:
    """``"7278A2"``, ``"7278a2"``, ``"0x7278a2"`` or an int -> the address; ``None`` when it is
    not a 24-bit address (ADS-B non-ICAO addresses are marked with a leading ``~``)."""
    if isinstance(icao24, int):
        return icao24 if 0 <= icao24 <= _MAX_ADDRESS else None
    text = icao24.strip().lower().removeprefix("0x")
    if not 1 <= len(text) <= 6 or any(c not in "0123456789abcdef" for c in text):
        return None
    return int(text, 16)


def country_of(icao24: str | int) -> Country | None:
    """The State of registry of an ICAO address, or ``None`` when the address is malformed,
    unallocated or in one of ICAO's own (temporary, special-use) blocks.

    The most specific block wins: ``789123`` is Hong Kong, although China's block holds it.
    """
    address = parse_icao24(icao24)
    if address is None:
        return None
    for block in _BY_SIZE:
        if block.start <= address <= block.end:
            return block.country
    return None
