"""The feature registry: an explicit ordered tuple whose order is the model's column order.

``explain_zh`` is a format string with one ``{value}`` field, filled by the reasons code with
the feature's value for a pair. ``version`` is bumped whenever a feature's computation changes,
so the fingerprint refuses models trained on the old meaning.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from tenantmatch.features import building as b
from tenantmatch.features import enterprise as e
from tenantmatch.features import pair as p
from tenantmatch.features.errors import FeatureError
from tenantmatch.features.lookups import ContextData

FeatureKind = Literal["numeric", "count", "flag", "ordinal", "categorical"]
FeatureFn = Callable[[pd.DataFrame, "ContextData"], pd.Series]
SPEC_VERSION = "1"  # of the registry as a whole (joining, context semantics)


@dataclass(frozen=True)
class Feature:
    """One registered feature: column name, pure function, kind, Chinese reason template."""

    name: str
    fn: FeatureFn
    kind: FeatureKind
    explain_zh: str
    version: str = "1"


_TAG_ZH = {
    "fortune_global_500": "世界500强",
    "china_500": "中国500强",
    "listed": "上市企业",
    "unicorn": "独角兽",
    "high_tech": "高新技术企业",
    "specialized_sme": "专精特新企业",
    "leading_enterprise": "龙头骨干企业",
    "platform": "平台企业",
}

FEATURES: tuple[Feature, ...] = (
    Feature("b__theme", b.theme_code, "categorical", "楼宇主题（编码 {value:.0f}）"),
    Feature("b__grade", b.grade_rank, "ordinal", "楼宇等级 {value:.0f} 级（4 为超甲级）"),
    Feature(
        "b__total_area_log_m2", b.total_area_log_m2, "numeric", "楼宇总面积（对数）{value:.1f}"
    ),
    Feature(
        "b__vacant_area_log_m2", b.vacant_area_log_m2, "numeric", "空置面积（对数）{value:.1f}"
    ),
    Feature("b__vacancy_rate", b.vacancy_rate, "numeric", "空置率 {value:.0%}"),
    Feature("b__min_unit_log_m2", b.min_unit_log_m2, "numeric", "最小可租单元（对数）{value:.1f}"),
    Feature("b__rent_cny_m2_day", b.rent_cny_m2_day, "numeric", "租金 {value:.1f} 元/平方米·天"),
    Feature("b__smart_5a", b.smart_5a_level, "ordinal", "具备 {value:.0f} 项5A智能化系统"),
    Feature("b__amenity_count", b.amenity_count, "count", "{value:.0f} 项配套设施"),
    Feature("b__has_metro", b.has_metro, "flag", "临近地铁"),
    Feature("b__has_parking", b.has_parking, "flag", "配有停车场"),
    Feature("b__lat", b.building_lat, "numeric", "楼宇纬度 {value:.3f}"),
    Feature("b__lon", b.building_lon, "numeric", "楼宇经度 {value:.3f}"),
    Feature("b__age_years", b.building_age_years, "numeric", "楼龄 {value:.0f} 年"),
    Feature("b__centre_km", b.centre_km, "numeric", "距市中心 {value:.1f} 公里"),
    Feature("b__tenant_count", b.tenant_count, "count", "现有 {value:.0f} 家在驻企业"),
    Feature(
        "b__tenant_mix_entropy", b.tenant_mix_entropy, "numeric", "在驻企业行业多样性 {value:.2f}"
    ),
    Feature("b__moveins_12m", b.moveins_12m, "count", "近12个月 {value:.0f} 家企业入驻"),
    Feature(
        "b__occupancy_trend_12m", b.occupancy_trend_12m, "numeric", "近12个月净入驻 {value:+.0f} 家"
    ),
    Feature("e__section", e.section_code, "categorical", "行业门类（编码 {value:.0f}）"),
    Feature("e__division", e.division_code, "categorical", "行业大类（编码 {value:.0f}）"),
    Feature("e__hq_type", e.hq_type_code, "categorical", "总部类型（编码 {value:.0f}）"),
    Feature("e__log_employees", e.employees_log, "numeric", "员工规模（对数）{value:.1f}"),
    Feature(
        "e__log_revenue_10k_cny", e.revenue_log_10k_cny, "numeric", "营收规模（对数）{value:.1f}"
    ),
    Feature(
        "e__log_capital_10k_cny", e.capital_log_10k_cny, "numeric", "注册资本（对数）{value:.1f}"
    ),
    Feature("e__age_years", e.age_years, "numeric", "成立 {value:.0f} 年"),
    Feature("e__moves_3y", e.moves_3y, "count", "近3年 {value:.0f} 次迁址或扩租"),
    Feature("e__area_growth_log", e.area_growth_log, "numeric", "办公面积增长（对数）{value:+.2f}"),
    *(
        Feature(f"e__tag_{tag}", fn, "flag", f"{_TAG_ZH[tag]}")
        for tag, fn in e.TAG_FEATURES.items()
    ),
    Feature("e__credit_score", e.credit_score, "numeric", "信用评分 {value:.0f} 分"),
    Feature("e__risk_flag_count", e.risk_flag_count, "count", "{value:.0f} 项风险标记"),
    Feature("e__tenure_years", e.tenure_years, "numeric", "现址已入驻 {value:.1f} 年"),
    Feature("e__in_building", e.in_building, "flag", "目前已有办公楼宇"),
    Feature("e__months_since_move", e.months_since_move, "numeric", "距上次迁址 {value:.0f} 个月"),
    Feature(
        "e__months_to_cycle_end",
        e.months_to_cycle_end_feature,
        "numeric",
        "按上一租期推算约 {value:.0f} 个月后到期",
    ),
    Feature(
        "e__lease_end_12m",
        e.lease_end_12m,
        "numeric",
        "按历史租期推算12个月内租约到期的可能性 {value:.0%}",
    ),
    Feature(
        "e__area_per_employee_log",
        e.area_per_employee_log,
        "numeric",
        "人均办公面积（对数）{value:.2f}",
    ),
    Feature("e__recent_declines", e.recent_declines, "count", "近60天婉拒 {value:.0f} 栋楼宇"),
    Feature(
        "e__best_open_stage",
        e.best_open_stage,
        "ordinal",
        "正在接洽的楼宇中最高进展阶段 {value:.0f}",
    ),
    Feature("e__space_need_m2", e.space_need_m2, "numeric", "预计需求面积 {value:.0f} 平方米"),
    Feature("e__events_12m", e.events_12m, "count", "近12个月 {value:.0f} 次招商接触"),
    Feature(
        "e__fitting_buildings_in_city",
        e.fitting_buildings_in_city,
        "count",
        "同城有 {value:.0f} 栋楼宇的空置面积满足其需求",
    ),
    Feature(
        "e__move_hazard",
        e.move_hazard,
        "numeric",
        "按同类企业往年情况推算，一年内迁址的可能性约 {value:.0%}",
    ),
    Feature(
        "pair__theme_fit_learned",
        p.theme_fit_learned,
        "numeric",
        "同行业企业入驻此类主题楼宇的倾向为平均的 {value:.1f} 倍",
    ),
    Feature(
        "pair__theme_prior_fit", p.theme_prior_fit, "numeric", "行业与楼宇主题契合度 {value:.0%}"
    ),
    Feature(
        "pair__space_need_log_ratio",
        p.space_need_log_ratio,
        "numeric",
        "需求面积与空置面积之比（对数）{value:+.1f}",
    ),
    Feature(
        "pair__space_need_fits", p.space_need_fits, "flag", "空置面积满足预计需求", version="2"
    ),
    Feature("pair__rent_burden", p.rent_burden, "numeric", "年租金约占营收 {value:.1%}"),
    Feature(
        "pair__chain_partners_in_building",
        p.chain_partners_in_building,
        "count",
        "{value:.0f} 家上下游伙伴已入驻本楼",
    ),
    Feature(
        "pair__upstream_partners_in_building",
        p.upstream_partners_in_building,
        "count",
        "{value:.0f} 家上游供应商已入驻本楼",
    ),
    Feature(
        "pair__downstream_partners_in_building",
        p.downstream_partners_in_building,
        "count",
        "{value:.0f} 家下游客户已入驻本楼",
    ),
    Feature(
        "pair__invest_partners_in_building",
        p.invest_partners_in_building,
        "count",
        "{value:.0f} 家投资关联企业已入驻本楼",
    ),
    Feature(
        "pair__chain_weight_in_building",
        p.chain_weight_in_building,
        "numeric",
        "本楼产业链关联强度 {value:.2f}",
    ),
    Feature(
        "pair__division_share_in_building",
        p.division_share_in_building,
        "numeric",
        "本楼 {value:.0%} 的企业与其同属一个行业大类",
    ),
    Feature(
        "pair__section_share_in_building",
        p.section_share_in_building,
        "numeric",
        "本楼 {value:.0%} 的企业与其同属一个行业门类",
    ),
    Feature(
        "pair__size_similarity_to_tenants",
        p.size_similarity_to_tenants,
        "numeric",
        "与在驻企业规模相近（相似度 {value:.0%}）",
    ),
    Feature("pair__distance_km", p.distance_km, "numeric", "距企业现址 {value:.1f} 公里"),
    Feature("pair__same_city", p.same_city, "flag", "与企业同城"),
    Feature("pair__same_district", p.same_district, "flag", "与企业同区县"),
    Feature(
        "pair__grade_x_log_employees",
        p.grade_x_log_employees,
        "numeric",
        "楼宇等级与企业规模匹配（{value:.1f}）",
    ),
    Feature(
        "pair__amenities_x_log_employees",
        p.amenities_x_log_employees,
        "numeric",
        "配套与企业规模匹配（{value:.1f}）",
    ),
    Feature(
        "pair__grade_vs_office",
        p.grade_vs_office,
        "numeric",
        "楼宇等级与企业上一处办公楼宇相差 {value:+.0f} 级",
    ),
    Feature(
        "pair__age_vs_office",
        p.age_vs_office,
        "numeric",
        "楼龄与企业上一处办公楼宇相差 {value:+.0f} 年",
    ),
    Feature(
        "pair__centre_km_vs_office",
        p.centre_km_vs_office,
        "numeric",
        "到市中心的距离与企业上一处办公楼宇相差 {value:+.1f} 公里",
    ),
    Feature("pair__prior_events", p.prior_events, "ordinal", "此前招商进展阶段 {value:.0f}"),
    Feature(
        "pair__rival_courtships",
        p.rival_courtships,
        "count",
        "另有 {value:.0f} 栋楼宇正在接洽该企业",
    ),
    Feature(
        "pair__days_since_last_event",
        p.days_since_last_event,
        "numeric",
        "{value:.0f} 天前有过招商接触",
    ),
    Feature(
        "pair__last_event_stage", p.last_event_stage, "ordinal", "最近一次招商进展阶段 {value:.0f}"
    ),
)


# Builders outside the ranker's set: the plain baseline's raw lease, move and pipeline columns.
EXTRA_FEATURES: tuple[Feature, ...] = (
    Feature("e__tenure_months", e.tenure_months, "numeric", "现址已入驻 {value:.0f} 个月"),
    *(
        Feature(
            f"e__tenure_mod_{m}", fn, "numeric", f"按{m}个月租期计，本期已过 {{value:.0f}} 个月"
        )
        for m, fn in e.TENURE_MOD_FEATURES.items()
    ),
    Feature("e__moves_total", e.moves_total, "count", "历史上 {value:.0f} 次入驻楼宇"),
    Feature(
        "e__courting_buildings", e.courting_buildings, "count", "近180天 {value:.0f} 栋楼宇与其接洽"
    ),
    Feature(
        "pair__division_tenants_in_building",
        p.division_tenants_in_building,
        "count",
        "本楼已有 {value:.0f} 家同行业大类企业",
    ),
    Feature(
        "pair__days_since_event_180d",
        p.days_since_event_180d,
        "numeric",
        "{value:.0f} 天前有过招商接触",
    ),
    Feature(
        "pair__last_stage_180d",
        p.last_stage_180d,
        "ordinal",
        "近180天最近一次招商进展阶段 {value:.0f}",
    ),
)
# Every registered builder, by name: the union the feature sets below choose from.
REGISTERED: tuple[Feature, ...] = (*FEATURES, *EXTRA_FEATURES)

RANKER_SET = "ranker"
PLAIN_SET = "plain"
# The plain baseline (issue 19): raw contract columns, simple counts, tenure and its position
# in 1-, 2- and 3-year lease terms, and three pipeline columns.
PLAIN_FEATURES: tuple[str, ...] = (
    "b__theme", "b__grade", "b__total_area_log_m2", "b__vacant_area_log_m2", "b__vacancy_rate",
    "b__rent_cny_m2_day", "b__tenant_count",
    "e__division", "e__log_employees", "e__age_years", "e__credit_score",
    "e__tenure_months", "e__tenure_mod_12", "e__tenure_mod_24", "e__tenure_mod_36",
    "e__moves_total", "e__courting_buildings",
    "pair__same_city", "pair__same_district", "pair__distance_km",
    "pair__division_tenants_in_building", "pair__days_since_event_180d", "pair__last_stage_180d",
)  # fmt: skip
WIDE_SET = "wide"
ALL_SET = "all"
# Features whose vocabulary part is fitted on the labels (the move hazard): a set learnt from
# rows the hazard has seen needs the ranker's cross-fitting, so the wide set leaves them out.
LABEL_FITTED: tuple[str, ...] = ("e__move_hazard",)
# The columns of the ranker and the plain set, the ranker's first.
_BOTH: tuple[str, ...] = tuple(dict.fromkeys([*(f.name for f in FEATURES), *PLAIN_FEATURES]))
# Named, ordered feature sets: a model is fitted on one and X is built for it.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    RANKER_SET: tuple(f.name for f in FEATURES),
    PLAIN_SET: PLAIN_FEATURES,
    ALL_SET: _BOTH,  # X of a blend of models fitted on the ranker's and the wide set
    # the plain classifier's recipe on every registered builder but the label-fitted ones
    WIDE_SET: tuple(n for n in _BOTH if n not in LABEL_FITTED),
}
_BY_NAME = {f.name: f for f in REGISTERED}


def feature_set(name: str = RANKER_SET) -> tuple[Feature, ...]:
    """The features of the set called ``name``, in its column order; FeatureError naming the
    known sets otherwise."""
    if name == RANKER_SET:
        return FEATURES  # read when called: the registry itself, in its order
    names = FEATURE_SETS.get(name)
    if names is None:
        raise FeatureError(f"feature set {name!r} is unknown; allowed: {sorted(FEATURE_SETS)}")
    return tuple(_BY_NAME[n] for n in names)


def feature_names(set_name: str = RANKER_SET) -> list[str]:
    """Column names of X for the feature set ``set_name``, in its order."""
    return [f.name for f in feature_set(set_name)]


def categorical_features(set_name: str = RANKER_SET) -> list[str]:
    """Names of the set's features emitted as vocabulary codes (LightGBM
    ``categorical_feature``)."""
    return [f.name for f in feature_set(set_name) if f.kind == "categorical"]


def feature_spec_fingerprint(set_name: str = RANKER_SET) -> str:
    """sha256 hex of the registry version and every feature's name, kind and version, in the
    set's order (the ranker's set gives the fingerprint models stored before sets existed)."""
    digest = hashlib.sha256(f"spec:{SPEC_VERSION}\n".encode())
    for feature in feature_set(set_name):
        digest.update(f"{feature.name}|{feature.kind}|{feature.version}\n".encode())
    return digest.hexdigest()


# The features computed from an enterprise's credit details (store.access.CREDIT_FIELDS): their
# reasons are shown only to the roles that may see credit details.
CREDIT_FEATURES = frozenset({"e__credit_score", "e__risk_flag_count"})
