"""Enumerations of data contract v1, each code with the Chinese label staff read.

The codes are the contract (``docs/data-contract.md``); the labels are for display only.
"""

from __future__ import annotations

from enum import StrEnum


class Theme(StrEnum):
    FINANCE = "finance"
    PROFESSIONAL_SERVICES = "professional_services"
    TECH_RND = "tech_rnd"
    INFORMATION_SERVICES = "information_services"
    CULTURE_CREATIVE = "culture_creative"
    COMMERCE_TRADE = "commerce_trade"
    ELECTRONICS_IT = "electronics_it"
    INTERNET = "internet"
    HEADQUARTERS = "headquarters"
    GENERAL = "general"


class Grade(StrEnum):
    SUPER_A = "super_a"
    A = "a"
    B = "b"
    C = "c"


class Amenity(StrEnum):
    CATERING = "catering"
    RETAIL = "retail"
    HOTEL = "hotel"
    ENTERTAINMENT = "entertainment"
    PARKING = "parking"
    TAKEOUT = "takeout"
    CHILDCARE = "childcare"
    GYM = "gym"
    CONFERENCE = "conference"
    PARTY_SERVICE_SPACE = "party_service_space"
    METRO = "metro"


class HqType(StrEnum):
    NONE = "none"
    REGIONAL_HQ = "regional_hq"
    FUNCTIONAL_HQ = "functional_hq"
    PROCUREMENT_CENTER = "procurement_center"
    SETTLEMENT_CENTER = "settlement_center"
    OPERATIONS_CENTER = "operations_center"
    EXPERIENCE_CENTER = "experience_center"
    INDEPENDENT_SUBSIDIARY = "independent_subsidiary"


class Tag(StrEnum):
    FORTUNE_GLOBAL_500 = "fortune_global_500"
    CHINA_500 = "china_500"
    LISTED = "listed"
    UNICORN = "unicorn"
    HIGH_TECH = "high_tech"
    SPECIALIZED_SME = "specialized_sme"
    LEADING_ENTERPRISE = "leading_enterprise"
    PLATFORM = "platform"


class RiskFlag(StrEnum):
    ABNORMAL_OPERATIONS = "abnormal_operations"
    DISHONEST_DEBTOR = "dishonest_debtor"
    TAX_VIOLATION = "tax_violation"
    ADMINISTRATIVE_PENALTY = "administrative_penalty"
    DEREGISTERED = "deregistered"


class Relation(StrEnum):
    SUPPLIES = "supplies"
    INVESTS = "invests"
    PARTNERS = "partners"


# What a link makes the partner of an enterprise: relation -> (the partner's direction when the
# enterprise is the link's source, ... when it is the target). A supplier (source) is upstream.
PARTNER_DIRECTIONS: dict[str, tuple[str, str]] = {
    Relation.SUPPLIES: ("downstream", "upstream"),  # source supplies target
    Relation.INVESTS: ("investee", "investor"),  # source holds equity in target
    Relation.PARTNERS: ("partner", "partner"),
}
DIRECTIONS_ZH: dict[str, str] = {
    "upstream": "上游供应商", "downstream": "下游客户", "investor": "投资方",
    "investee": "被投资企业", "partner": "合作伙伴",
}


class Stage(StrEnum):
    CONTACTED = "contacted"
    VISITED = "visited"
    NEGOTIATING = "negotiating"
    SIGNED = "signed"
    DECLINED = "declined"


LABELS_ZH: dict[str, str] = {
    # themes (policy wording)
    Theme.FINANCE: "金融服务型",
    Theme.PROFESSIONAL_SERVICES: "中介服务型",
    Theme.TECH_RND: "科技研发型",
    Theme.INFORMATION_SERVICES: "信息服务型",
    Theme.CULTURE_CREATIVE: "文化创意",
    Theme.COMMERCE_TRADE: "商务商贸",
    Theme.ELECTRONICS_IT: "电子信息",
    Theme.INTERNET: "网络信息",
    Theme.HEADQUARTERS: "总部经济",
    Theme.GENERAL: "综合型",
    # grades
    Grade.SUPER_A: "超甲级",
    Grade.A: "甲级",
    Grade.B: "乙级",
    Grade.C: "丙级",
    # amenities
    Amenity.CATERING: "餐饮",
    Amenity.RETAIL: "零售",
    Amenity.HOTEL: "酒店",
    Amenity.ENTERTAINMENT: "文娱",
    Amenity.PARKING: "停车",
    Amenity.TAKEOUT: "外卖",
    Amenity.CHILDCARE: "幼托",
    Amenity.GYM: "健身",
    Amenity.CONFERENCE: "会议",
    Amenity.PARTY_SERVICE_SPACE: "党群服务空间",
    Amenity.METRO: "地铁",
    # headquarters types
    HqType.NONE: "非总部",
    HqType.REGIONAL_HQ: "地区总部",
    HqType.FUNCTIONAL_HQ: "功能型总部",
    HqType.PROCUREMENT_CENTER: "采购中心",
    HqType.SETTLEMENT_CENTER: "结算中心",
    HqType.OPERATIONS_CENTER: "运营中心",
    HqType.EXPERIENCE_CENTER: "消费体验中心",
    HqType.INDEPENDENT_SUBSIDIARY: "独立核算子公司",
    # tags
    Tag.FORTUNE_GLOBAL_500: "世界500强",
    Tag.CHINA_500: "中国500强",
    Tag.LISTED: "上市企业",
    Tag.UNICORN: "独角兽",
    Tag.HIGH_TECH: "高新技术企业",
    Tag.SPECIALIZED_SME: "专精特新",
    Tag.LEADING_ENTERPRISE: "龙头骨干企业",
    Tag.PLATFORM: "平台企业",
    # risk flags
    RiskFlag.ABNORMAL_OPERATIONS: "经营异常",
    RiskFlag.DISHONEST_DEBTOR: "失信被执行人",
    RiskFlag.TAX_VIOLATION: "税收违法",
    RiskFlag.ADMINISTRATIVE_PENALTY: "行政处罚",
    RiskFlag.DEREGISTERED: "已注销",
    # relations
    Relation.SUPPLIES: "供应",
    Relation.INVESTS: "投资",
    Relation.PARTNERS: "合作",
    # stages
    Stage.CONTACTED: "已接洽",
    Stage.VISITED: "已考察",
    Stage.NEGOTIATING: "洽谈中",
    Stage.SIGNED: "已签约",
    Stage.DECLINED: "已婉拒",
    # partner directions
    **DIRECTIONS_ZH,
}


def label_zh(code: str) -> str:
    """Chinese label of a contract code; the code itself when it has none."""
    return LABELS_ZH.get(code, code)
