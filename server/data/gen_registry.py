#!/usr/bin/env python3
"""Generates the deterministic sample household registry (sample-registry.json).

Every holder of data/sample/card-holders.json is included with exactly their values, plus a
few hundred fictitious people in households across several counties/townships/villages.
Run from the repo root: python3 server/data/gen_registry.py > server/data/sample-registry.json
"""
import json, random

PLACES = {
    "臺北市": {"大安區": ["龍坡里", "古莊里", "錦安里", "龍安里", "福住里"],
              "中正區": ["文北里", "幸福里", "東門里", "梅花里"],
              "信義區": ["西村里", "興隆里", "三張里"]},
    "新北市": {"板橋區": ["留侯里", "流芳里", "赤松里", "黃石里"],
              "中和區": ["中原里", "南山里", "員山里"]},
    "桃園市": {"中壢區": ["興南里", "中堅里", "新街里"],
              "桃園區": ["中興里", "長美里", "東埔里"]},
    "臺中市": {"西屯區": ["福安里", "西屯里", "上石里", "何厝里"],
              "北區": ["賴村里", "頂厝里", "錦村里"]},
    "臺南市": {"東區": ["大學里", "東門里", "崇學里"],
              "中西區": ["赤嵌里", "郡王里", "開山里"]},
    "高雄市": {"苓雅區": ["林榮里", "苓雅里", "城北里"],
              "三民區": ["鼎力里", "寶珠里", "博愛里"]},
}
# The official romanisation (Ministry of the Interior / Chunghwa Post, Hanyu Pinyin) of each
# place, which the English pages show.
ENGLISH = {
    "臺北市": "Taipei City", "新北市": "New Taipei City", "桃園市": "Taoyuan City",
    "臺中市": "Taichung City", "臺南市": "Tainan City", "高雄市": "Kaohsiung City",
    "大安區": "Da'an District", "中正區": "Zhongzheng District", "信義區": "Xinyi District",
    "板橋區": "Banqiao District", "中和區": "Zhonghe District", "中壢區": "Zhongli District",
    "桃園區": "Taoyuan District", "西屯區": "Xitun District", "北區": "North District",
    "東區": "East District", "中西區": "West Central District", "苓雅區": "Lingya District",
    "三民區": "Sanmin District",
    "龍坡里": "Longpo", "古莊里": "Guzhuang", "錦安里": "Jin'an", "龍安里": "Long'an",
    "福住里": "Fuzhu", "文北里": "Wenbei", "幸福里": "Xingfu", "東門里": "Dongmen",
    "梅花里": "Meihua", "西村里": "Xicun", "興隆里": "Xinglong", "三張里": "Sanzhang",
    "留侯里": "Liuhou", "流芳里": "Liufang", "赤松里": "Chisong", "黃石里": "Huangshi",
    "中原里": "Zhongyuan", "南山里": "Nanshan", "員山里": "Yuanshan", "興南里": "Xingnan",
    "中堅里": "Zhongjian", "新街里": "Xinjie", "中興里": "Zhongxing", "長美里": "Changmei",
    "東埔里": "Dongpu", "福安里": "Fu'an", "西屯里": "Xitun", "上石里": "Shangshi",
    "何厝里": "Hecuo", "賴村里": "Laicun", "頂厝里": "Dingcuo", "錦村里": "Jincun",
    "大學里": "Daxue", "崇學里": "Chongxue", "赤嵌里": "Chikan", "郡王里": "Junwang",
    "開山里": "Kaishan", "林榮里": "Linrong", "苓雅里": "Lingya", "城北里": "Chengbei",
    "鼎力里": "Dingli", "寶珠里": "Baozhu", "博愛里": "Bo'ai",
}


def village_en(v):
    return ENGLISH[v] + " Village"


CODES = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                 [10,11,12,13,14,15,16,17,34,18,19,20,21,22,35,23,24,25,26,27,28,29,32,30,31,33]))
COUNTY_LETTER = {"臺北市": "A", "新北市": "F", "桃園市": "H", "臺中市": "B", "臺南市": "D", "高雄市": "E"}
SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高"
GIVEN = "志明美玲家豪淑芬俊傑怡君建宏雅婷冠宇佳穎宗翰欣怡承恩子晴柏翰詩涵文雄秀英國華麗珠"

def check_digit(letter, sex_digit, body7):
    code = CODES[letter]
    digits = [code // 10, code % 10, sex_digit] + body7
    weights = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    s = sum(d * w for d, w in zip(digits, weights))
    return (10 - s % 10) % 10

def national_id(rng, letter, sex):
    body = [rng.randrange(10) for _ in range(7)]
    sd = 1 if sex == "M" else 2
    return f"{letter}{sd}{''.join(map(str, body))}{check_digit(letter, sd, body)}"

REVOKED_CARDS = [
    {"card_number": "000011110001", "national_id": "A123456789", "status": "replaced"},
    {"card_number": "000022220002", "national_id": "B223456719", "status": "lost"},
]


def main():
    rng = random.Random(20261126)
    holders = json.load(open("data/sample/card-holders.json", encoding="utf-8"))["holders"]
    people, used_ids, used_hh, used_cards = [], set(), set(), set()
    for h in holders:
        people.append({k: h[k] for k in ("national_id", "name", "birth_date", "sex", "card_number",
                                         "household_number", "county", "township", "village",
                                         "neighbourhood")})
        used_ids.add(h["national_id"]); used_hh.add(h["household_number"]); used_cards.add(h["card_number"])
    card_seq = 100000000
    for county, towns in PLACES.items():
        letter = COUNTY_LETTER[county]
        for town, villages in towns.items():
            for village in villages:
                for _ in range(5):  # households per village
                    while True:
                        hh = letter + "".join(str(rng.randrange(10)) for _ in range(7))
                        if hh not in used_hh:
                            used_hh.add(hh); break
                    neighbourhood = rng.randrange(1, 25)
                    surname = rng.choice(SURNAMES)
                    for _ in range(rng.randrange(1, 5)):
                        sex = rng.choice("MF")
                        while True:
                            nid = national_id(rng, letter, sex)
                            if nid not in used_ids:
                                used_ids.add(nid); break
                        card_seq += rng.randrange(1, 9999)
                        card = f"{card_seq:012d}"
                        assert card not in used_cards
                        used_cards.add(card)
                        y, m, d = rng.randrange(20, 112), rng.randrange(1, 13), rng.randrange(1, 29)
                        name = surname + rng.choice(GIVEN) + rng.choice(GIVEN)
                        people.append({"national_id": nid, "name": name, "birth_date": f"{y:03d}{m:02d}{d:02d}",
                                       "sex": sex, "card_number": card, "household_number": hh,
                                       "county": county, "township": town, "village": village,
                                       "neighbourhood": neighbourhood})
    places = [{"name": c, "name_en": ENGLISH[c],
               "townships": [{"name": t, "name_en": ENGLISH[t],
                              "villages": v, "villages_en": [village_en(x) for x in v]}
                             for t, v in towns.items()]}
              for c, towns in PLACES.items()]
    out = {"_comment": "Generated by server/data/gen_registry.py. Fictitious people (checksum-valid IDs); "
                       "the first entries are data/sample/card-holders.json.",
           "places": places, "people": people,
           # Cards the card authority's embedded default refuses (issue 10): an old card of
           # 王小明 replaced by 000012345678, and a card of 陳美麗 reported lost.
           "revoked_cards": REVOKED_CARDS}
    print(json.dumps(out, ensure_ascii=False, indent=1))

main()
