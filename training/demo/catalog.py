"""Static facts the demo world is drawn from: Shanxi's city weights, the industry mix of office
tenants, inter-industry supply linkages, building brands and themes. Hand-set guesses."""

from __future__ import annotations

import numpy as np

# Share of office buildings (and of enterprises) per prefecture city; Taiyuan dominates.
CITY_SHARES: dict[str, float] = {
    "太原市": 0.45,
    "大同市": 0.08,
    "长治市": 0.07,
    "晋中市": 0.07,
    "运城市": 0.065,
    "临汾市": 0.06,
    "晋城市": 0.05,
    "阳泉市": 0.04,
    "吕梁市": 0.04,
    "忻州市": 0.035,
    "朔州市": 0.03,
}

# Rent level of a city relative to Taiyuan.
CITY_RENT_FACTOR: dict[str, float] = {"太原市": 1.0}
OTHER_CITY_RENT_FACTOR = 0.72

# division: (section, weight in the office-tenant mix, name word, revenue per employee in 10k CNY,
# office headcount exponent: 1 = everyone sits in the office, lower = plants and sites elsewhere)
DIVISIONS: dict[str, tuple[str, float, str, float, float]] = {
    "06": ("B", 1.5, "煤业", 120.0, 0.55),
    "39": ("C", 1.0, "电子", 90.0, 0.6),
    "44": ("D", 1.2, "电力", 150.0, 0.6),
    "48": ("E", 1.5, "建设工程", 70.0, 0.7),
    "51": ("F", 10.0, "贸易", 80.0, 1.0),
    "52": ("F", 2.0, "商贸", 40.0, 0.9),
    "63": ("I", 1.0, "通信", 60.0, 0.9),
    "64": ("I", 4.0, "网络科技", 45.0, 1.0),
    "65": ("I", 10.0, "软件科技", 40.0, 1.0),
    "66": ("J", 2.5, "银行", 150.0, 0.9),
    "67": ("J", 2.0, "证券投资", 120.0, 1.0),
    "68": ("J", 2.5, "保险代理", 60.0, 0.9),
    "69": ("J", 3.0, "金融服务", 80.0, 1.0),
    "70": ("K", 6.0, "置业", 70.0, 0.9),
    "71": ("L", 2.0, "租赁", 60.0, 0.9),
    "72": ("L", 16.0, "企业管理咨询", 35.0, 1.0),
    "73": ("M", 3.0, "研究院", 30.0, 1.0),
    "74": ("M", 8.0, "工程技术", 35.0, 1.0),
    "75": ("M", 6.0, "科技服务", 30.0, 1.0),
    "77": ("N", 1.0, "环保科技", 30.0, 0.9),
    "78": ("N", 1.0, "市政管理", 25.0, 0.9),
    "86": ("R", 1.0, "文化传播", 30.0, 1.0),
    "87": ("R", 1.0, "影视传媒", 35.0, 1.0),
    "88": ("R", 2.0, "文化艺术", 20.0, 1.0),
}
DIVISION_CODES: tuple[str, ...] = tuple(DIVISIONS)

# Who supplies whom: source division -> {target division: weight}. Business services (72),
# software (65) and professional services (74) serve nearly everyone; coal feeds power.
_LINKAGE: dict[str, dict[str, float]] = {
    "06": {"44": 5.0, "51": 2.0, "48": 1.0},
    "39": {"51": 2.0, "65": 2.0, "63": 1.0},
    "44": {"06": 1.0, "48": 1.0, "51": 1.0},
    "48": {"70": 3.0, "44": 1.0, "06": 1.0},
    "51": {"52": 4.0, "48": 1.0, "39": 1.0},
    "63": {"64": 2.0, "65": 2.0, "66": 1.0},
    "64": {"52": 2.0, "86": 1.0, "87": 1.0, "51": 1.0},
    "65": {"66": 3.0, "67": 2.0, "68": 2.0, "69": 2.0, "44": 1.0, "06": 1.0, "64": 1.5},
    "66": {"70": 2.0, "51": 2.0, "06": 1.0, "44": 1.0},
    "67": {"06": 1.0, "44": 1.0, "65": 1.0},
    "68": {"52": 1.0, "70": 1.0},
    "69": {"51": 2.0, "52": 1.0, "70": 1.0, "75": 1.0},
    "70": {"72": 1.0, "52": 1.0},
    "71": {"48": 2.0, "06": 1.0, "51": 1.0},
    "73": {"75": 2.0, "39": 1.0, "65": 1.0, "06": 1.0},
    "74": {"48": 3.0, "70": 2.0, "06": 1.0, "44": 1.0},
    "75": {"65": 1.0, "73": 1.0, "39": 1.0},
    "77": {"06": 2.0, "44": 2.0, "78": 1.0},
    "78": {"70": 1.0, "77": 1.0},
    "86": {"64": 1.0, "88": 1.0, "52": 1.0},
    "87": {"64": 2.0, "86": 1.0},
    "88": {"86": 1.0, "87": 1.0},
}
_SERVES_EVERYONE = {"72": 1.0, "74": 0.3}


def linkage_matrix() -> np.ndarray:
    """Row-normalised supply linkage between ``DIVISION_CODES``, shape (D, D), no NaN."""
    index = {d: i for i, d in enumerate(DIVISION_CODES)}
    m = np.full((len(index), len(index)), 0.05)
    for src, row in _LINKAGE.items():
        for dst, w in row.items():
            m[index[src], index[dst]] += w
    for src, w in _SERVES_EVERYONE.items():
        m[index[src], :] += w
    np.fill_diagonal(m, m.diagonal() + 0.5)  # same-industry trade (subcontracting)
    return m / m.sum(axis=1, keepdims=True)


THEMES: dict[str, float] = {
    "general": 0.28,
    "commerce_trade": 0.18,
    "finance": 0.1,
    "tech_rnd": 0.08,
    "information_services": 0.07,
    "professional_services": 0.07,
    "headquarters": 0.06,
    "culture_creative": 0.06,
    "electronics_it": 0.05,
    "internet": 0.05,
}
GRADES: tuple[str, ...] = ("super_a", "a", "b", "c")
GRADE_SCORE = np.array([1.0, 0.7, 0.3, 0.0])
GRADE_PROBS_TAIYUAN = np.array([0.06, 0.32, 0.4, 0.22])
GRADE_PROBS_OTHER = np.array([0.01, 0.2, 0.46, 0.33])
GRADE_MEDIAN_AREA_M2 = np.array([50_000.0, 24_000.0, 13_000.0, 9_000.0])
GRADE_RENT_CNY_M2_DAY = np.array([4.6, 3.3, 2.3, 1.6])
GRADE_MEAN_SMART_5A = np.array([4.8, 4.0, 2.5, 1.2])
GRADE_NEWEST_YEAR_MEAN = np.array([2016.0, 2012.0, 2007.0, 2001.0])
AMENITIES: tuple[str, ...] = (
    "catering",
    "retail",
    "hotel",
    "entertainment",
    "parking",
    "takeout",
    "childcare",
    "gym",
    "conference",
    "party_service_space",
    "metro",
)
# Probability of each amenity (columns, as AMENITIES) per grade (rows, as GRADES).
AMENITY_PROBS = np.array(
    [
        [0.95, 0.9, 0.5, 0.5, 0.95, 0.9, 0.25, 0.7, 0.9, 0.8, 0.45],
        [0.85, 0.7, 0.2, 0.3, 0.85, 0.85, 0.12, 0.45, 0.7, 0.65, 0.3],
        [0.6, 0.45, 0.05, 0.15, 0.6, 0.8, 0.05, 0.2, 0.35, 0.45, 0.15],
        [0.4, 0.3, 0.02, 0.08, 0.35, 0.7, 0.02, 0.08, 0.15, 0.3, 0.08],
    ]
)
MIN_UNITS_M2 = np.array([100.0, 150.0, 200.0, 300.0, 500.0, 1000.0])
MIN_UNIT_PROBS = np.array([0.22, 0.18, 0.2, 0.18, 0.12, 0.1])
N_OPERATORS = 12
BRANDS: tuple[str, ...] = (
    "恒泰", "华润", "万达", "龙城", "汾河", "晋商", "国贸", "信达", "鼎盛", "华远", "金茂", "世贸",
    "滨河", "长风", "平阳", "凤凰", "龙湖", "丰泽", "并州", "晋阳", "云冈", "太行", "河东", "中鼎",
    "盛世", "君悦", "开元", "融创", "保利", "绿地", "宝能", "瑞丰",
)  # fmt: skip
BUILDING_SUFFIXES: tuple[str, ...] = ("中心", "大厦", "广场", "国际", "金融中心", "商务中心")
NAME_TOKENS: tuple[str, ...] = (
    "鑫", "瑞", "恒", "泰", "华", "盛", "达", "源", "晋", "汾", "智", "宏", "德", "安", "通", "博",
    "诚", "信", "远", "合", "中", "新", "佳", "润",
)  # fmt: skip
HQ_TYPES: tuple[str, ...] = (
    "regional_hq",
    "functional_hq",
    "procurement_center",
    "settlement_center",
    "operations_center",
    "experience_center",
    "independent_subsidiary",
)
RISK_FLAGS: tuple[str, ...] = (
    "abnormal_operations",
    "dishonest_debtor",
    "tax_violation",
    "administrative_penalty",
)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
CITY_ADCODE: dict[str, str] = {
    "太原市": "140100",
    "大同市": "140200",
    "阳泉市": "140300",
    "长治市": "140400",
    "晋城市": "140500",
    "朔州市": "140600",
    "晋中市": "140700",
    "运城市": "140800",
    "忻州市": "140900",
    "临汾市": "141000",
    "吕梁市": "141100",
}
TECH_DIVISIONS = frozenset({"39", "63", "64", "65", "73", "75"})
# City centre points (lat, lon), the prefecture-level adcode points.
CITY_CENTRES: dict[str, tuple[float, float]] = {
    "太原市": (37.87059, 112.548879),
    "大同市": (40.076763, 113.300129),
    "长治市": (36.195404, 113.116404),
    "晋中市": (37.687357, 112.752652),
    "运城市": (35.02646, 111.00746),
    "临汾市": (36.088005, 111.518975),
    "晋城市": (35.490684, 112.851486),
    "阳泉市": (37.856971, 113.580519),
    "吕梁市": (37.519126, 111.144699),
    "忻州市": (38.416663, 112.734174),
    "朔州市": (39.331855, 112.432991),
}
