"""Tests of rasterclass.accuracy: golden numbers from published examples, laws, renderers.

Golden numbers and their confidence tags come from /work/shared/reference/ACCURACY.md
("the card"): HIGH-confidence values are hard assertions at the precision they are given
to; MEDIUM ones are asserted at their printed precision with a comment.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rasterclass.accuracy import (
    Z_95,
    AccuracyReport,
    AreaEstimate,
    ConfusionStatistics,
    allocate_sample,
    anticipated_standard_errors,
    compare_kappa,
    confusion_matrix_from_labels,
    confusion_statistics,
    estimate_from_error_matrix,
    format_for_path,
    sample_size_for_overall_accuracy,
    stehman_estimate,
    z_for_confidence,
)
from rasterclass.errors import AccuracyError

# ---------------------------------------------------------------------------------------
# Fixtures: published examples
# ---------------------------------------------------------------------------------------

OLOFSSON_CLASSES = ["deforestation", "forest_gain", "stable_forest", "stable_nonforest"]
OLOFSSON_COUNTS = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
OLOFSSON_MAPPED = [200_000, 150_000, 3_200_000, 6_450_000]
OLOFSSON_W = [0.020, 0.015, 0.320, 0.645]
OLOFSSON_EXPECTED_UA = [0.70, 0.60, 0.90, 0.95]

# Card §1.3, [C] HIGH: full-precision values (7 dp; areas in ha to 2 dp, pixels to 1 dp).
OLOFSSON_FULL = pd.read_csv(
    io.StringIO(
        """class,U,SE_U,CIhw_U_z1.96,P,SE_P,CIhw_P_z1.96,p_hat_j,SE_p_hat_j,area_ha,SE_area_ha,CIhw_area_ha_z1.96,CIhw_area_ha_z1.959964,area_px,SE_area_px
deforestation,0.8800000,0.0377760,0.0740410,0.7486614,0.1088316,0.2133099,0.0235086,0.0034907,21157.76,3141.65,6157.63,6157.52,235086.2,34907.2
forest_gain,0.7333333,0.0514066,0.1007570,0.8471564,0.1298002,0.2544084,0.0129846,0.0021292,11686.15,1916.24,3755.83,3755.76,129846.2,21291.5
stable_forest,0.9272727,0.0202782,0.0397454,0.9345089,0.0175125,0.0343244,0.3175221,0.0087924,285769.93,7913.18,15509.84,15509.55,3175221.4,87924.2
stable_nonforest,0.9630769,0.0104763,0.0205335,0.9616090,0.0093681,0.0183615,0.6459846,0.0092300,581386.15,8306.97,16281.66,16281.36,6459846.2,92299.6
"""
    )
).set_index("class")

# Half a unit in the last printed digit (plus float slack).
TOL_7DP = 5.1e-8
TOL_2DP = 0.0051
TOL_1DP = 0.051

CG1 = [[65, 4, 22, 24], [6, 81, 5, 8], [0, 11, 85, 19], [4, 7, 3, 90]]
CG2 = [[45, 4, 12, 24], [6, 91, 5, 8], [0, 8, 55, 9], [4, 7, 3, 55]]
CG_CLASSES = ["D", "C", "BA", "SB"]

GRASS = [
    [4, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 1, 4, 0, 0, 0],
    [3, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1, 0],
    [0, 2, 0, 0, 0, 2],
]

# Stehman (2014), IJRS 35:4923-4939, section 3 numerical example (Table 2). Not in the card
# (its sections 2-4 are absent); the sample and the printed results are transcribed from
# boothmanrylan/accuracyAssessmentTools tests/stehman2014_table2.csv + tests/test_stehman.py
# and the hagc/mapaccuracy stehman2014() example, which agree. MEDIUM confidence.
STEHMAN_STRATA = [1] * 10 + [2] * 10 + [3] * 10 + [4] * 10
STEHMAN_MAP = list("AAAAAAABBBABBBBBBBBBBBCCCCCCBBDDDDDDDDDD")
STEHMAN_REF = list("AAAAACBABCABBBBBAABBCCCCCDDBBADDDDDDDCCB")
STEHMAN_SIZES = {1: 40_000, 2: 30_000, 3: 20_000, 4: 10_000}


@pytest.fixture(scope="module")
def olofsson() -> AreaEstimate:
    return estimate_from_error_matrix(
        OLOFSSON_COUNTS, OLOFSSON_MAPPED, OLOFSSON_CLASSES, pixel_area_m2=900.0
    )


@pytest.fixture(scope="module")
def cg1() -> ConfusionStatistics:
    return confusion_statistics(CG1, CG_CLASSES)


# ---------------------------------------------------------------------------------------
# Olofsson et al. (2014) worked example
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", OLOFSSON_CLASSES)
def test_olofsson_full_precision_per_class(olofsson: AreaEstimate, cls: str) -> None:
    """Card §1.3 [C] HIGH, at the printed precision."""
    g = OLOFSSON_FULL.loc[cls]
    z = olofsson.z
    assert olofsson.users_accuracy[cls] == pytest.approx(g["U"], abs=TOL_7DP)
    assert olofsson.users_accuracy_se[cls] == pytest.approx(g["SE_U"], abs=TOL_7DP)
    assert z * olofsson.users_accuracy_se[cls] == pytest.approx(g["CIhw_U_z1.96"], abs=TOL_7DP)
    assert olofsson.producers_accuracy[cls] == pytest.approx(g["P"], abs=TOL_7DP)
    assert olofsson.producers_accuracy_se[cls] == pytest.approx(g["SE_P"], abs=TOL_7DP)
    assert z * olofsson.producers_accuracy_se[cls] == pytest.approx(g["CIhw_P_z1.96"], abs=TOL_7DP)
    assert olofsson.area_proportion[cls] == pytest.approx(g["p_hat_j"], abs=TOL_7DP)
    assert olofsson.area_proportion_se[cls] == pytest.approx(g["SE_p_hat_j"], abs=TOL_7DP)
    assert olofsson.area_ha[cls] == pytest.approx(g["area_ha"], abs=TOL_2DP)
    assert olofsson.area_ha_se[cls] == pytest.approx(g["SE_area_ha"], abs=TOL_2DP)
    assert z * olofsson.area_ha_se[cls] == pytest.approx(g["CIhw_area_ha_z1.96"], abs=TOL_2DP)
    assert olofsson.area_pixels[cls] == pytest.approx(g["area_px"], abs=TOL_1DP)
    assert olofsson.area_pixels_se[cls] == pytest.approx(g["SE_area_px"], abs=TOL_1DP)


def test_olofsson_overall_accuracy(olofsson: AreaEstimate) -> None:
    """Card §1.3 [C] HIGH: Ô = 0.9465119, SE 0.0094304, CI half-width 0.0184836."""
    assert olofsson.overall_accuracy == pytest.approx(0.9465119, abs=TOL_7DP)
    assert olofsson.overall_accuracy_se == pytest.approx(0.0094304, abs=TOL_7DP)
    low, high = olofsson.overall_accuracy_ci
    assert (high - low) / 2 == pytest.approx(0.0184836, abs=TOL_7DP)


def test_olofsson_published_rounded(olofsson: AreaEstimate) -> None:
    """Card §1.2 [P] HIGH: UA, PA, OA at 2 dp; areas and CIs to the nearest ha (z = 1.96)."""
    ua = {
        "deforestation": (0.88, 0.07),
        "forest_gain": (0.73, 0.10),
        "stable_forest": (0.93, 0.04),
        "stable_nonforest": (0.96, 0.02),
    }
    # PA CIs 0.23 (gain) and 0.01 (non-forest) are printing slips in the paper (card §1.4):
    # the computed 0.25 and 0.02 are asserted instead.
    pa = {
        "deforestation": (0.75, 0.21),
        "forest_gain": (0.85, 0.25),
        "stable_forest": (0.93, 0.03),
        "stable_nonforest": (0.96, 0.02),
    }
    area = {
        "deforestation": (21_158, 6_158),
        "forest_gain": (11_686, 3_756),
        "stable_forest": (285_770, 15_510),
        "stable_nonforest": (581_386, 16_282),
    }
    z = olofsson.z
    for cls in OLOFSSON_CLASSES:
        assert round(olofsson.users_accuracy[cls], 2) == ua[cls][0]
        assert round(z * olofsson.users_accuracy_se[cls], 2) == ua[cls][1]
        assert round(olofsson.producers_accuracy[cls], 2) == pa[cls][0]
        assert round(z * olofsson.producers_accuracy_se[cls], 2) == pa[cls][1]
        assert round(olofsson.area_ha[cls]) == area[cls][0]
        assert round(z * olofsson.area_ha_se[cls]) == area[cls][1]
    assert round(olofsson.overall_accuracy, 2) == 0.95
    assert round(z * olofsson.overall_accuracy_se, 2) == 0.02


def test_olofsson_printed_pa_ci_slips_are_not_reproduced(olofsson: AreaEstimate) -> None:
    """Card §1.4: eq. (7) gives 0.2544 and 0.0184, not the printed 0.23 and 0.01."""
    z = olofsson.z
    assert z * olofsson.producers_accuracy_se["forest_gain"] == pytest.approx(0.2544, abs=5e-5)
    assert z * olofsson.producers_accuracy_se["stable_nonforest"] == pytest.approx(0.0184, abs=5e-5)


def test_olofsson_deforestation_pixels_and_bounds(olofsson: AreaEstimate) -> None:
    """Card §1.2/§1.3: Â = 235,086 ± 68,418 px; S(Â) = 34,907 px (paper's 34,097 is a slip);
    95 % CI 15,000.1 to 27,315.4 ha (29.1 %); forest gain 7,930.3 to 15,442.0 ha (32.1 %);
    map minus estimate −3,157.8 ha."""
    cls = "deforestation"
    assert round(olofsson.area_pixels[cls]) == 235_086
    assert round(olofsson.z * olofsson.area_pixels_se[cls]) == 68_418
    assert round(olofsson.area_pixels_se[cls]) == 34_907
    frame = olofsson.to_frame()
    assert frame.loc[cls, "area_ha_ci_low"] == pytest.approx(15_000.1, abs=0.051)
    assert frame.loc[cls, "area_ha_ci_high"] == pytest.approx(27_315.4, abs=0.051)
    moe = olofsson.z * olofsson.area_ha_se[cls] / olofsson.area_ha[cls]
    assert round(100 * moe, 1) == 29.1
    assert frame.loc["forest_gain", "area_ha_ci_low"] == pytest.approx(7_930.3, abs=0.051)
    assert frame.loc["forest_gain", "area_ha_ci_high"] == pytest.approx(15_442.0, abs=0.051)
    assert frame.loc[cls, "mapped_ha"] - olofsson.area_ha[cls] == pytest.approx(-3157.8, abs=0.051)


def test_olofsson_reference_pixel_totals(olofsson: AreaEstimate) -> None:
    """Card §1.3 [C]: N̂_.j = 235,086.2; 129,846.2; 3,175,221.4; 6,459,846.2 pixels."""
    expected = [235_086.2, 129_846.2, 3_175_221.4, 6_459_846.2]
    np.testing.assert_allclose(olofsson.area_pixels.to_numpy(), expected, atol=TOL_1DP)


def test_olofsson_table9_proportions(olofsson: AreaEstimate) -> None:
    """Card §1.2 Table 9 [P at 4 dp; C at 7 dp] HIGH."""
    table9 = [
        [0.0176000, 0, 0.0013333, 0.0010667],
        [0, 0.0110000, 0.0016000, 0.0024000],
        [0.0019394, 0, 0.2967273, 0.0213333],
        [0.0039692, 0.0019846, 0.0178615, 0.6211846],
    ]
    np.testing.assert_allclose(olofsson.proportion_matrix.to_numpy(), table9, atol=TOL_7DP)
    np.testing.assert_allclose(olofsson.proportion_matrix.sum(axis=1), OLOFSSON_W, atol=1e-12)
    col_totals = [0.0235, 0.0130, 0.3175, 0.6460]
    np.testing.assert_allclose(olofsson.proportion_matrix.sum(axis=0).round(4), col_totals)


def test_olofsson_z_qnorm_changes_only_last_digit() -> None:
    """Card §1.3/§1.4: with z = 1.959964 the area CI half-widths are 6157.52 ... 16281.36."""
    z = z_for_confidence(0.95)
    assert z == pytest.approx(1.959964, abs=5e-7)
    est = estimate_from_error_matrix(
        OLOFSSON_COUNTS, OLOFSSON_MAPPED, OLOFSSON_CLASSES, pixel_area_m2=900.0, z=z
    )
    expected = OLOFSSON_FULL["CIhw_area_ha_z1.959964"].to_numpy()
    np.testing.assert_allclose(est.z * est.area_ha_se.to_numpy(), expected, atol=TOL_2DP)
    # The paper's 16,282 for stable non-forest needs z = 1.96 (card §1.4 item 3).
    assert round(est.z * est.area_ha_se["stable_nonforest"]) == 16_281


def test_olofsson_accepts_labelled_dataframe_and_mapping() -> None:
    frame = pd.DataFrame(OLOFSSON_COUNTS, index=OLOFSSON_CLASSES, columns=OLOFSSON_CLASSES)
    mapped = dict(zip(reversed(OLOFSSON_CLASSES), reversed(OLOFSSON_MAPPED), strict=True))
    est = estimate_from_error_matrix(frame, mapped)
    assert est.class_names == tuple(OLOFSSON_CLASSES)
    assert est.mapped_pixels is not None
    assert est.mapped_pixels.tolist() == OLOFSSON_MAPPED
    assert est.overall_accuracy == pytest.approx(0.9465119, abs=TOL_7DP)
    assert est.area_ha is None  # no pixel area given
    assert est.area_pixels["deforestation"] == pytest.approx(235_086.2, abs=TOL_1DP)
    assert est.strata["sample_size"].tolist() == [75, 75, 165, 325]
    assert est.n_samples == 640


# ---------------------------------------------------------------------------------------
# Stehman (2014) worked example (strata differ from the map classes)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fpc", [False, True])
def test_stehman_2014_example(fpc: bool) -> None:
    """Stehman (2014) pp. 4932-4936, MEDIUM (secondary sources, see STEHMAN_* above).

    Asserted at the printed precision (half a unit in the last digit). With N_h >= 10,000
    and n_h = 10 the FPC does not change the printed digits.
    """
    est = stehman_estimate(STEHMAN_MAP, STEHMAN_REF, STEHMAN_STRATA, STEHMAN_SIZES, fpc=fpc)
    assert est.class_names == ("A", "B", "C", "D")
    assert est.area_proportion["A"] == pytest.approx(0.35, abs=5e-3)
    assert est.area_proportion_se["A"] == pytest.approx(0.082, abs=5e-4)
    assert est.area_proportion["C"] == pytest.approx(0.20, abs=5e-3)
    assert est.area_proportion_se["C"] == pytest.approx(0.064, abs=5e-4)
    assert est.overall_accuracy == pytest.approx(0.63, abs=5e-3)
    assert est.overall_accuracy_se == pytest.approx(0.085, abs=5e-4)
    assert est.users_accuracy["B"] == pytest.approx(0.574, abs=5e-4)
    assert est.users_accuracy_se["B"] == pytest.approx(0.125, abs=5e-4)
    assert est.producers_accuracy["B"] == pytest.approx(0.794, abs=5e-4)
    # The paper prints 0.114, using s²_xh = 0 for stratum 4 where its own Table 3 has 0.1;
    # boothmanrylan's suite documents this and pins 0.116, which we reproduce.
    assert est.producers_accuracy_se["B"] == pytest.approx(0.116, abs=1e-3)
    assert est.proportion_matrix.loc["B", "C"] == pytest.approx(0.08, abs=1e-12)
    assert est.mapped_pixels is None
    assert est.total_pixels == 100_000


def test_stehman_exact_values_from_table2() -> None:
    """Exact ratios implied by Table 2 (y and x sums per stratum, N_h/n_h weights)."""
    est = stehman_estimate(STEHMAN_MAP, STEHMAN_REF, STEHMAN_STRATA, STEHMAN_SIZES)
    # UA_B: Ŷ = 4000*1 + 3000*7 + 2000*1 = 27,000; X̂ = 4000*3 + 3000*9 + 2000*3 = 47,000.
    assert est.users_accuracy["B"] == pytest.approx(27 / 47, rel=1e-12)
    # PA_B: X̂ = 4000*2 + 3000*7 + 2000*2 + 1000*1 = 34,000.
    assert est.producers_accuracy["B"] == pytest.approx(27 / 34, rel=1e-12)
    assert est.proportion_matrix.to_numpy().sum() == pytest.approx(1.0, abs=1e-12)


def test_stehman_fpc_shrinks_variance_and_census_has_zero_se() -> None:
    base = stehman_estimate(STEHMAN_MAP, STEHMAN_REF, STEHMAN_STRATA, STEHMAN_SIZES)
    with_fpc = stehman_estimate(STEHMAN_MAP, STEHMAN_REF, STEHMAN_STRATA, STEHMAN_SIZES, fpc=True)
    assert with_fpc.overall_accuracy_se < base.overall_accuracy_se
    assert with_fpc.overall_accuracy_se == pytest.approx(
        base.overall_accuracy_se * math.sqrt(1 - 10 / 40_000), rel=1e-2
    )
    census = stehman_estimate(
        STEHMAN_MAP, STEHMAN_REF, STEHMAN_STRATA, {1: 10, 2: 10, 3: 10, 4: 10}, fpc=True
    )
    assert census.overall_accuracy_se == 0.0
    assert (census.area_proportion_se == 0.0).all()


def test_stehman_variance_is_numerically_stable() -> None:
    """Extreme stratum weights: the PA SE must match the exact rational value.

    Found by hypothesis: the textbook form s²_y + R² s²_x − 2 R s_xy lost 7 digits here.
    Exact value of eq. (7) computed with fractions.Fraction: 2.9476352570517558e-05.
    """
    matrix = np.array([[0, 2], [1, 1]])
    mapped = [1.0, 67_847.0]
    map_idx, ref_idx = _samples_from_matrix(matrix)
    steh = stehman_estimate(map_idx, ref_idx, map_idx, {0: mapped[0], 1: mapped[1]})
    olof = estimate_from_error_matrix(matrix, mapped)
    exact = 2.9476352570517558e-05
    assert steh.producers_accuracy_se.iloc[1] == pytest.approx(exact, rel=1e-10)
    assert olof.producers_accuracy_se.iloc[1] == pytest.approx(exact, rel=1e-10)


def test_olofsson_pa_variance_is_numerically_stable() -> None:
    """Found by hypothesis: Σ_{i≠j} computed as (Σ_i − diagonal) cancelled a huge term.

    Exact value of eq. (7) computed with fractions.Fraction: 3.2166466121207336e-05.
    """
    matrix = np.array([[1, 2], [1, 1]])
    mapped = [1.0, 46_341.0]
    olof = estimate_from_error_matrix(matrix, mapped)
    map_idx, ref_idx = _samples_from_matrix(matrix)
    steh = stehman_estimate(map_idx, ref_idx, map_idx, {0: mapped[0], 1: mapped[1]})
    exact = 3.2166466121207336e-05
    assert olof.producers_accuracy_se.iloc[1] == pytest.approx(exact, rel=1e-10)
    assert steh.producers_accuracy_se.iloc[1] == pytest.approx(exact, rel=1e-10)


def test_stehman_classes_and_names() -> None:
    est = stehman_estimate(
        STEHMAN_MAP,
        STEHMAN_REF,
        STEHMAN_STRATA,
        STEHMAN_SIZES,
        classes=["D", "C", "B", "A", "E"],
        class_names=["dd", "cc", "bb", "aa", "ee"],
        pixel_area_m2=100.0,
    )
    assert est.class_names == ("dd", "cc", "bb", "aa", "ee")
    assert est.users_accuracy["bb"] == pytest.approx(27 / 47, rel=1e-12)
    assert math.isnan(est.users_accuracy["ee"])  # never mapped
    assert math.isnan(est.producers_accuracy["ee"])  # never in the reference
    assert est.area_proportion["ee"] == 0.0
    assert est.area_ha is not None
    assert est.area_ha["aa"] == pytest.approx(0.35 * 100_000 * 100 / 10_000, rel=1e-12)


# ---------------------------------------------------------------------------------------
# Sample size and allocation
# ---------------------------------------------------------------------------------------


def test_sample_size_eq13_golden() -> None:
    """Card §1.5 [P] HIGH: n = 641 (640.54 rounded up); finite form 640.49 → 641;
    target 0.005 → 2563 [C]."""
    assert sample_size_for_overall_accuracy(OLOFSSON_EXPECTED_UA, OLOFSSON_W) == 641
    assert (
        sample_size_for_overall_accuracy(
            OLOFSSON_EXPECTED_UA, OLOFSSON_W, population_size=10_000_000
        )
        == 641
    )
    assert (
        sample_size_for_overall_accuracy(OLOFSSON_EXPECTED_UA, OLOFSSON_W, target_se=0.005) == 2563
    )
    # Mapped pixel counts are normalised to the same W_i.
    assert sample_size_for_overall_accuracy(OLOFSSON_EXPECTED_UA, OLOFSSON_MAPPED) == 641


def test_sample_size_finite_population_is_smaller() -> None:
    big = sample_size_for_overall_accuracy(OLOFSSON_EXPECTED_UA, OLOFSSON_W, target_se=0.001)
    small_pop = sample_size_for_overall_accuracy(
        OLOFSSON_EXPECTED_UA, OLOFSSON_W, target_se=0.001, population_size=10_000
    )
    assert small_pop < big
    assert small_pop <= 10_000


def test_allocation_golden() -> None:
    """Card §1.5: proportional 12.8/9.6/205.1/413.4 → 13/10/205/413 (paper ≈ the same).

    'min:100' fixes 100 in the two change classes and splits the remaining 441 in
    proportion to W: 146.2/294.8 → 146/295 [C]. The paper's 149/292 is MEDIUM and not
    reproducible (card §1.5), so it is not asserted.
    """
    prop = allocate_sample(641, OLOFSSON_W, class_names=OLOFSSON_CLASSES)
    assert prop.tolist() == [13, 10, 205, 413]
    assert prop.index.tolist() == OLOFSSON_CLASSES
    assert allocate_sample(641, OLOFSSON_W, "min:100").tolist() == [100, 100, 146, 295]
    assert allocate_sample(641, OLOFSSON_W, "equal").tolist() == [160, 160, 160, 161]


def test_allocation_min_iterates_and_skips_empty_strata() -> None:
    # After fixing the first class at 30, the second's proportional share of the rest
    # (70 * 0.1/0.9 = 7.8) is below 30 too and must be fixed as well.
    alloc = allocate_sample(100, {"a": 0.05, "b": 0.10, "c": 0.0, "d": 0.85}, "min:30")
    assert alloc.to_dict() == {"a": 30, "b": 30, "c": 0, "d": 40}
    assert allocate_sample(7, [0, 1, 1], "equal").tolist() == [0, 4, 3]
    assert allocate_sample(0, [1, 2]).tolist() == [0, 0]


def test_anticipated_standard_errors_table7() -> None:
    """Card §1.5 Table 7 [P] MEDIUM: SE(Û)=0.046 (U=0.70, n=100), 0.025 (U=0.90, n=149),
    SE(Ô)≈0.011 under allocation 100/100/149/292 ([C] 0.0461, 0.0247, 0.0115)."""
    prec = anticipated_standard_errors(
        OLOFSSON_EXPECTED_UA, OLOFSSON_W, [100, 100, 149, 292], OLOFSSON_CLASSES
    )
    assert round(prec.users_accuracy_se["deforestation"], 3) == 0.046
    assert round(prec.users_accuracy_se["stable_forest"], 3) == 0.025
    assert round(prec.overall_accuracy_se, 3) == 0.011
    assert prec.users_accuracy_se["deforestation"] == pytest.approx(0.0461, abs=5e-5)
    assert prec.users_accuracy_se["stable_forest"] == pytest.approx(0.0247, abs=5e-5)
    assert prec.overall_accuracy_se == pytest.approx(0.0115, abs=5e-5)


# ---------------------------------------------------------------------------------------
# Confusion-matrix statistics and kappa
# ---------------------------------------------------------------------------------------


def test_congalton_green_analyst1(cg1: ConfusionStatistics) -> None:
    """Card §5.1 [P]/[C] HIGH: OA, UA, PA, kappa (1e-6); published 74 %, 0.65."""
    assert cg1.overall_accuracy == pytest.approx(0.7396313, abs=1e-6)
    assert cg1.overall_accuracy == pytest.approx(321 / 434, rel=1e-12)
    np.testing.assert_allclose(
        cg1.producers_accuracy, [0.8666667, 0.7864078, 0.7391304, 0.6382979], atol=1e-6
    )
    np.testing.assert_allclose(
        cg1.users_accuracy, [0.5652174, 0.8100000, 0.7391304, 0.8653846], atol=1e-6
    )
    assert cg1.kappa == pytest.approx(0.6535163, abs=1e-6)
    assert round(cg1.kappa, 2) == 0.65
    assert round(cg1.overall_accuracy, 2) == 0.74
    assert [round(100 * v) for v in cg1.producers_accuracy] == [87, 79, 74, 64]
    assert [round(100 * v) for v in cg1.users_accuracy] == [57, 81, 74, 87]
    assert cg1.n == 434
    assert cg1.reference_counts.tolist() == [75, 103, 115, 141]
    assert cg1.map_counts.tolist() == [115, 100, 115, 104]
    assert cg1.matrix.loc["D", "SB"] == 24  # rows = map, columns = reference


def test_congalton_green_kappa_variances(cg1: ConfusionStatistics) -> None:
    """Card §5.1/§5.3 [C]: FCE variance 0.0007699508; book variant 0.0007778 ([R] Accord.NET,
    tolerance 1e-7, MEDIUM that the book prints it)."""
    assert cg1.kappa_variance_method == "fce"
    assert cg1.kappa_variance == pytest.approx(0.0007699508, abs=1e-10)
    assert cg1.kappa / cg1.kappa_se == pytest.approx(23.55, abs=5e-3)
    book = confusion_statistics(CG1, CG_CLASSES, kappa_variance="congalton-green")
    assert book.kappa_variance == pytest.approx(0.0007778, abs=1e-7)
    assert book.kappa_variance == pytest.approx(0.0007778004, abs=1e-10)
    assert book.kappa / book.kappa_se == pytest.approx(23.43, abs=5e-3)
    low, high = cg1.kappa_ci
    assert (high - low) / 2 == pytest.approx(Z_95 * math.sqrt(0.0007699508), rel=1e-6)


def test_congalton_green_conditional_kappa(cg1: ConfusionStatistics) -> None:
    """Card §5.1 [C]."""
    np.testing.assert_allclose(
        cg1.conditional_kappa_users, [0.4743854, 0.7508761, 0.6450865, 0.8006038], atol=1e-6
    )
    np.testing.assert_allclose(
        cg1.conditional_kappa_producers,
        [0.8185998, 0.7224580, 0.6450865, 0.5243069],
        atol=1e-6,
    )


def test_congalton_green_analyst2_and_two_kappa_test(cg1: ConfusionStatistics) -> None:
    """Card §5.2 [R]/[C]: OA 0.7321429, κ 0.6404152, var 0.0010233 (book) / 0.0010142878
    (FCE), Z 20.02 (book); pairwise Z 0.3087 (book variances) / 0.3102 (FCE)."""
    cg2 = confusion_statistics(CG2, CG_CLASSES)
    assert cg2.overall_accuracy == pytest.approx(0.7321429, abs=1e-6)
    assert round(cg2.overall_accuracy, 2) == 0.73
    assert cg2.kappa == pytest.approx(0.6404152, abs=1e-6)
    assert cg2.kappa_variance == pytest.approx(0.0010142878, abs=1e-10)
    book1 = confusion_statistics(CG1, CG_CLASSES, kappa_variance="congalton-green")
    book2 = confusion_statistics(CG2, CG_CLASSES, kappa_variance="congalton-green")
    assert book2.kappa_variance == pytest.approx(0.0010233, abs=1e-7)
    assert book2.kappa / book2.kappa_se == pytest.approx(20.02, abs=5e-3)
    assert compare_kappa(book1, book2) == pytest.approx(0.3087019, abs=1e-6)
    assert compare_kappa(cg1, cg2) == pytest.approx(0.3102, abs=5e-5)
    assert compare_kappa(cg1, cg2) < 1.96


def test_fleiss_cohen_everitt_1969_example() -> None:
    """Card §5.3 [R]/[C]: κ 0.4285714, var 0.002885 (FCE), var₀ 0.003082 (1e-6); the
    book θ4 variant would give 0.0029423."""
    props = np.array([[0.53, 0.05, 0.02], [0.11, 0.14, 0.05], [0.01, 0.06, 0.03]])
    stats = confusion_statistics(props * 200)
    assert stats.kappa == pytest.approx(0.4285714, abs=1e-6)
    assert stats.kappa_variance == pytest.approx(0.002885, abs=1e-6)
    assert stats.kappa_variance_null == pytest.approx(0.003082, abs=1e-6)
    book = confusion_statistics(props * 200, kappa_variance="congalton-green")
    assert book.kappa_variance == pytest.approx(0.0029423, abs=1e-6)


def test_vassarstats_kappa_se() -> None:
    """Card §5.3 [R]/[C]: κ 0.4915, SE 0.072 (FCE; the book variant gives 0.0735)."""
    stats = confusion_statistics([[44, 5, 1], [7, 20, 3], [9, 5, 6]])
    assert stats.kappa == pytest.approx(0.4915, abs=5e-5)
    assert stats.kappa_se == pytest.approx(0.07213, abs=5e-6)
    assert round(stats.kappa_se, 3) == 0.072


def test_grass_r_kappa_matrix_with_empty_row_and_column() -> None:
    """Card §5.4 [R]/[C]: OA 61.111 %, κ 0.52091, PA/UA with NA, conditional kappa,
    variance 0.016871 with the book θ4 variant (FCE gives 0.0152917)."""
    names = ["1", "2", "3", "4", "5", "6"]
    stats = confusion_statistics(GRASS, names)
    assert stats.overall_accuracy == pytest.approx(11 / 18, rel=1e-12)
    assert stats.kappa == pytest.approx(0.5209125, abs=1e-6)
    np.testing.assert_allclose(
        100 * stats.producers_accuracy, [57.1429, 0, 100, np.nan, 100, 66.667], atol=5e-4
    )
    np.testing.assert_allclose(100 * stats.users_accuracy, [100, np.nan, 80, 0, 100, 50], atol=5e-4)
    np.testing.assert_allclose(
        stats.conditional_kappa_users, [1, np.nan, 0.742857, 0, 1, 0.4], atol=5e-7
    )
    assert stats.kappa_variance == pytest.approx(0.0152917, abs=1e-7)
    book = confusion_statistics(GRASS, names, kappa_variance="congalton-green")
    assert book.kappa_variance == pytest.approx(0.016871, abs=1e-6)
    # F1 is 2 n_ii / (n_i+ + n_+i): 0 for a class that is never right, not NaN.
    assert stats.f1["2"] == 0.0
    assert stats.f1["4"] == 0.0
    assert stats.f1["1"] == pytest.approx(2 * 4 / (4 + 7), rel=1e-12)


def test_story_congalton_1986() -> None:
    """Card §5.4, MEDIUM (one source): PA 93/50/50 % (floored), UA 49.1/71.4/90.9 %."""
    stats = confusion_statistics([[28, 14, 15], [1, 15, 5], [1, 1, 20]])
    assert stats.overall_accuracy == pytest.approx(0.63, abs=1e-12)
    assert [math.floor(100 * v) for v in stats.producers_accuracy] == [93, 50, 50]
    assert [round(100 * v, 1) for v in stats.users_accuracy] == [49.1, 71.4, 90.9]


def test_single_class_kappa_is_nan_not_error() -> None:
    stats = confusion_statistics([[5, 0], [0, 0]], ["a", "b"])
    assert stats.overall_accuracy == 1.0
    assert math.isnan(stats.kappa)
    assert math.isnan(stats.users_accuracy["b"])
    assert math.isnan(stats.f1["b"])
    assert stats.macro_f1 == 1.0


def test_polygon_counts_by_mapping_and_sequence(cg1: ConfusionStatistics) -> None:
    by_name = confusion_statistics(
        CG1, CG_CLASSES, polygon_counts={"C": 3, "D": 1, "BA": 2, "SB": 0}
    )
    assert by_name.polygon_counts is not None
    assert by_name.polygon_counts.tolist() == [1, 3, 2, 0]
    by_order = confusion_statistics(CG1, CG_CLASSES, polygon_counts=[1, 3, 2, 0])
    assert by_order.per_class()["polygon_count"].tolist() == [1, 3, 2, 0]
    assert cg1.polygon_counts is None
    assert "polygon_count" not in cg1.per_class().columns


def test_confusion_matrix_from_labels_counts_and_weights() -> None:
    m = np.array([[1, 1], [2, 3]])
    r = np.array([[1, 2], [2, 1]])
    counts = confusion_matrix_from_labels(m, r, [1, 2, 3])
    assert counts.dtype == np.int64
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    weighted = confusion_matrix_from_labels(m, r, [3, 2, 1], sample_weight=[0.5, 1, 2, 4])
    assert weighted.tolist() == [[0, 0, 4.0], [0, 2.0, 0], [0, 1.0, 0.5]]
    auto = confusion_matrix_from_labels(["b", "a"], ["a", "a"])
    assert auto.tolist() == [[1, 0], [1, 0]]  # sorted codes a, b


# ---------------------------------------------------------------------------------------
# Input validation and zero-division behaviour
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        ([[1, 2, 3], [4, 5, 6]], "square"),
        ([1, 2, 3], "square"),
        ([[1, -1], [0, 2]], "negative"),
        ([[1, np.nan], [0, 2]], "NaN"),
        ([[0, 0], [0, 0]], "no samples"),
        ([["a", "b"], ["c", "d"]], "numeric"),
    ],
)
def test_confusion_statistics_rejects_bad_matrices(matrix: object, match: str) -> None:
    with pytest.raises(AccuracyError, match=match):
        confusion_statistics(matrix)


def test_confusion_statistics_rejects_bad_names_and_options() -> None:
    with pytest.raises(AccuracyError, match="2 class names"):
        confusion_statistics(CG1, ["a", "b"])
    with pytest.raises(AccuracyError, match="unique"):
        confusion_statistics([[1, 0], [0, 1]], ["a", "a"])
    with pytest.raises(AccuracyError, match="differ from column labels"):
        confusion_statistics(pd.DataFrame([[1, 0], [0, 1]], index=["a", "b"], columns=["b", "a"]))
    with pytest.raises(AccuracyError, match="kappa_variance"):
        confusion_statistics(CG1, kappa_variance="book")  # type: ignore[arg-type]
    with pytest.raises(AccuracyError, match="z must be"):
        confusion_statistics(CG1, z=-1)
    with pytest.raises(AccuracyError, match="unknown classes"):
        confusion_statistics(CG1, CG_CLASSES, polygon_counts={"X": 1})
    with pytest.raises(AccuracyError, match="no value for classes"):
        confusion_statistics(CG1, CG_CLASSES, polygon_counts={"D": 1})
    assert issubclass(AccuracyError, ValueError)


def test_confusion_matrix_from_labels_rejects_bad_input() -> None:
    with pytest.raises(AccuracyError, match="same length"):
        confusion_matrix_from_labels([1, 2], [1], [1, 2])
    with pytest.raises(AccuracyError, match="mask nodata"):
        confusion_matrix_from_labels([1, 0], [1, 2], [1, 2])
    with pytest.raises(AccuracyError, match="unique"):
        confusion_matrix_from_labels([1], [1], [1, 1])
    with pytest.raises(AccuracyError, match="sample_weight"):
        confusion_matrix_from_labels([1], [1], [1], sample_weight=[-1.0])
    with pytest.raises(AccuracyError, match="one weight per sample"):
        confusion_matrix_from_labels([1], [1], [1], sample_weight=[1.0, 2.0])


def test_olofsson_rejects_inconsistent_inputs() -> None:
    with pytest.raises(AccuracyError, match=r"\['b'\] have mapped pixels but no samples"):
        estimate_from_error_matrix([[5, 1], [0, 0]], [100, 50], ["a", "b"])
    with pytest.raises(AccuracyError, match="0 mapped pixels"):
        estimate_from_error_matrix([[5, 1], [1, 3]], [100, 0], ["a", "b"])
    with pytest.raises(AccuracyError, match="one value per class"):
        estimate_from_error_matrix([[5, 1], [1, 3]], [100, 50, 3])
    with pytest.raises(AccuracyError, match="whole sample counts"):
        estimate_from_error_matrix([[5.5, 1], [1, 3]], [100, 50])
    with pytest.raises(AccuracyError, match="sums to 0"):
        estimate_from_error_matrix([[0, 0], [0, 0]], [0, 0])
    with pytest.raises(AccuracyError, match="pixel_area_m2"):
        estimate_from_error_matrix([[5, 1], [1, 3]], [100, 50], pixel_area_m2=0)


def test_olofsson_zero_division_gives_nan() -> None:
    # Class c: never mapped (0 pixels, no samples) and never in the reference.
    # Class b: a single sample, so its variance terms are not estimable.
    est = estimate_from_error_matrix(
        [[9, 1, 0], [0, 1, 0], [0, 0, 0]], [1000, 10, 0], ["a", "b", "c"]
    )
    assert math.isnan(est.users_accuracy["c"])
    assert math.isnan(est.producers_accuracy["c"])
    assert est.area_proportion["c"] == 0.0
    assert est.users_accuracy["b"] == 1.0
    assert math.isnan(est.users_accuracy_se["b"])
    assert math.isnan(est.overall_accuracy_se)
    assert est.users_accuracy_se["a"] == pytest.approx(math.sqrt(0.9 * 0.1 / 9), rel=1e-12)
    assert math.isfinite(est.overall_accuracy)


def test_stehman_rejects_inconsistent_inputs() -> None:
    with pytest.raises(AccuracyError, match="lengths 2, 1 and 2"):
        stehman_estimate(["a", "b"], ["a"], [1, 1], {1: 10})
    with pytest.raises(AccuracyError, match="give stratum_sizes an entry"):
        stehman_estimate(["a", "b"], ["a", "b"], [1, 2], {1: 10})
    with pytest.raises(AccuracyError, match=r"strata \[2\] have pixels"):
        stehman_estimate(["a", "b"], ["a", "b"], [1, 1], {1: 10, 2: 5})
    with pytest.raises(AccuracyError, match="size of 0"):
        stehman_estimate(["a", "b"], ["a", "b"], [1, 1], {1: 0})
    with pytest.raises(AccuracyError, match="n_h > N_h"):
        stehman_estimate(["a", "b", "a"], ["a", "b", "a"], [1, 1, 1], {1: 2}, fpc=True)
    with pytest.raises(AccuracyError, match="pass every class label"):
        stehman_estimate(["a", "b"], ["a", "b"], [1, 1], {1: 10}, classes=["a"])
    with pytest.raises(AccuracyError, match="must map each stratum"):
        stehman_estimate(["a"], ["a"], [1], [10])  # type: ignore[arg-type]
    with pytest.raises(AccuracyError, match="no sample units"):
        stehman_estimate([], [], [], {1: 10})
    with pytest.raises(AccuracyError, match=">= 0"):
        stehman_estimate(["a"], ["a"], [1], {1: -5})


def test_stehman_empty_stratum_of_size_zero_is_ignored() -> None:
    est = stehman_estimate(["a", "b", "a"], ["a", "b", "b"], [1, 1, 1], {1: 30, 2: 0})
    assert est.strata.index.tolist() == ["1"]
    assert est.overall_accuracy == pytest.approx(2 / 3, rel=1e-12)


def test_sample_design_rejects_bad_input() -> None:
    with pytest.raises(AccuracyError, match="one value per class"):
        sample_size_for_overall_accuracy([0.9], OLOFSSON_W)
    with pytest.raises(AccuracyError, match=r"in \[0, 1\]"):
        sample_size_for_overall_accuracy([1.2, 0.5, 0.5, 0.5], OLOFSSON_W)
    with pytest.raises(AccuracyError, match="target_se"):
        sample_size_for_overall_accuracy(OLOFSSON_EXPECTED_UA, OLOFSSON_W, target_se=0)
    with pytest.raises(AccuracyError, match="not all 0"):
        sample_size_for_overall_accuracy(OLOFSSON_EXPECTED_UA, [0, 0, 0, 0])
    with pytest.raises(AccuracyError, match="unknown allocation"):
        allocate_sample(100, OLOFSSON_W, "neyman")
    with pytest.raises(AccuracyError, match=r"whole number >= 0, e\.g\."):
        allocate_sample(100, OLOFSSON_W, "min:x")
    with pytest.raises(AccuracyError, match="raise n_total or lower the minimum"):
        allocate_sample(100, OLOFSSON_W, "min:30")
    with pytest.raises(AccuracyError, match="n_total"):
        allocate_sample(-1, OLOFSSON_W)
    with pytest.raises(AccuracyError, match="n_total"):
        allocate_sample(10.5, OLOFSSON_W)  # type: ignore[arg-type]
    with pytest.raises(AccuracyError, match="confidence level"):
        z_for_confidence(95)


# ---------------------------------------------------------------------------------------
# Hypothesis laws
# ---------------------------------------------------------------------------------------


@st.composite
def count_matrices(draw: st.DrawFn, min_k: int = 2, max_k: int = 5, max_count: int = 30):
    k = draw(st.integers(min_k, max_k))
    values = draw(st.lists(st.integers(0, max_count), min_size=k * k, max_size=k * k))
    return np.array(values, dtype=np.int64).reshape(k, k)


@st.composite
def stratified_designs(draw: st.DrawFn):
    """Error matrix whose sampled rows have >= 2 samples, with mapped pixels per row;
    some rows may be unmapped and unsampled."""
    matrix = draw(count_matrices(max_count=25))
    k = matrix.shape[0]
    present = np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    assume(present.any())
    matrix[~present] = 0
    assume(np.all(matrix.sum(axis=1)[present] >= 2))
    mapped = np.array(
        draw(st.lists(st.integers(1, 10_000_000), min_size=k, max_size=k)), dtype=np.float64
    )
    mapped[~present] = 0
    return matrix, mapped


def _samples_from_matrix(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = matrix.shape[0]
    cells = np.repeat(np.arange(k * k), matrix.ravel())
    return cells // k, cells % k


@settings(max_examples=150, deadline=None)
@given(count_matrices())
def test_law_confusion_statistics_bounds(matrix: np.ndarray) -> None:
    assume(matrix.sum() > 0)
    stats = confusion_statistics(matrix)
    assert 0.0 <= stats.overall_accuracy <= 1.0
    assert math.isnan(stats.kappa) or stats.kappa <= 1.0 + 1e-12
    assert math.isnan(stats.kappa_variance) or stats.kappa_variance >= -1e-12
    for series in (stats.users_accuracy, stats.producers_accuracy, stats.f1):
        finite = series.dropna()
        assert ((finite >= 0) & (finite <= 1)).all()
    # F1 is the harmonic mean of UA and PA wherever both are defined and positive.
    both = (stats.users_accuracy > 0) & (stats.producers_accuracy > 0)
    ua, pa = stats.users_accuracy[both], stats.producers_accuracy[both]
    np.testing.assert_allclose(stats.f1[both], 2 * ua * pa / (ua + pa), rtol=1e-12)
    assert stats.reference_counts.sum() == matrix.sum()


@settings(max_examples=100, deadline=None)
@given(count_matrices(), st.randoms(use_true_random=False))
def test_law_kappa_invariant_to_class_order(matrix: np.ndarray, rnd) -> None:
    assume(matrix.sum() > 0)
    k = matrix.shape[0]
    perm = list(range(k))
    rnd.shuffle(perm)
    a = confusion_statistics(matrix)
    b = confusion_statistics(matrix[np.ix_(perm, perm)])
    assert b.overall_accuracy == pytest.approx(a.overall_accuracy, rel=1e-12)
    np.testing.assert_allclose(b.kappa, a.kappa, rtol=1e-12, atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(
        b.kappa_variance, a.kappa_variance, rtol=1e-9, atol=1e-15, equal_nan=True
    )
    np.testing.assert_allclose(
        b.users_accuracy.to_numpy(), a.users_accuracy.to_numpy()[perm], equal_nan=True
    )


@settings(max_examples=100, deadline=None)
@given(count_matrices(max_count=5))
def test_law_matrix_from_labels_matches_crosstab(matrix: np.ndarray) -> None:
    map_idx, ref_idx = _samples_from_matrix(matrix)
    codes = [10 * (i + 1) for i in range(matrix.shape[0])]
    m = np.asarray(codes)[map_idx]
    r = np.asarray(codes)[ref_idx]
    rebuilt = confusion_matrix_from_labels(m, r, codes)
    np.testing.assert_array_equal(rebuilt, matrix)
    weights = np.full(m.size, 0.5)
    np.testing.assert_allclose(
        confusion_matrix_from_labels(m, r, codes, sample_weight=weights), matrix * 0.5
    )


@settings(max_examples=150, deadline=None)
@given(stratified_designs())
def test_law_stehman_with_map_strata_equals_olofsson(design) -> None:
    """Card §6/§7: with strata = map classes and no FPC, Stehman (2014) reduces exactly to
    Olofsson et al. (2014)."""
    matrix, mapped = design
    names = [f"c{i}" for i in range(matrix.shape[0])]
    olof = estimate_from_error_matrix(matrix, mapped, names)
    map_idx, ref_idx = _samples_from_matrix(matrix)
    sizes = {i: mapped[i] for i in range(matrix.shape[0])}
    steh = stehman_estimate(
        map_idx, ref_idx, map_idx, sizes, classes=list(range(matrix.shape[0])), class_names=names
    )
    assert steh.overall_accuracy == pytest.approx(olof.overall_accuracy, rel=1e-9, abs=1e-12)
    assert steh.overall_accuracy_se == pytest.approx(olof.overall_accuracy_se, rel=1e-9, abs=1e-12)
    for attr in (
        "users_accuracy",
        "users_accuracy_se",
        "producers_accuracy",
        "producers_accuracy_se",
        "area_proportion",
        "area_proportion_se",
    ):
        np.testing.assert_allclose(
            getattr(steh, attr).to_numpy(),
            getattr(olof, attr).to_numpy(),
            rtol=1e-9,
            atol=1e-12,
            equal_nan=True,
            err_msg=attr,
        )
    np.testing.assert_allclose(
        steh.proportion_matrix.to_numpy(), olof.proportion_matrix.to_numpy(), atol=1e-12
    )
    np.testing.assert_array_equal(steh.sample_counts.to_numpy(), matrix)


@settings(max_examples=150, deadline=None)
@given(stratified_designs())
def test_law_area_proportions_sum_to_one(design) -> None:
    matrix, mapped = design
    est = estimate_from_error_matrix(matrix, mapped)
    assert est.area_proportion.sum() == pytest.approx(1.0, abs=1e-12)
    assert est.proportion_matrix.to_numpy().sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(
        est.proportion_matrix.sum(axis=1).to_numpy(), mapped / mapped.sum(), atol=1e-12
    )
    assert est.area_pixels.sum() == pytest.approx(mapped.sum(), rel=1e-12)
    assert 0.0 <= est.overall_accuracy <= 1.0 + 1e-12


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from("abc"), min_size=12, max_size=60),
    st.randoms(use_true_random=False),
)
def test_law_stehman_general_strata(strata_labels: list[str], rnd) -> None:
    counts = pd.Series(strata_labels).value_counts()
    assume((counts >= 2).all())
    n = len(strata_labels)
    m = [rnd.choice("xyz") for _ in range(n)]
    r = [rnd.choice("xyz") for _ in range(n)]
    sizes = {h: 1000 * (i + 1) for i, h in enumerate(sorted(counts.index))}
    no_fpc = stehman_estimate(m, r, strata_labels, sizes)
    fpc = stehman_estimate(m, r, strata_labels, sizes, fpc=True)
    assert no_fpc.area_proportion.sum() == pytest.approx(1.0, abs=1e-12)
    assert no_fpc.proportion_matrix.to_numpy().sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(
        no_fpc.area_proportion, no_fpc.proportion_matrix.sum(axis=0), atol=1e-12
    )
    np.testing.assert_allclose(
        no_fpc.overall_accuracy, np.trace(no_fpc.proportion_matrix.to_numpy()), atol=1e-12
    )
    assert fpc.overall_accuracy == no_fpc.overall_accuracy
    assert fpc.overall_accuracy_se <= no_fpc.overall_accuracy_se + 1e-15
    assert (fpc.area_proportion_se <= no_fpc.area_proportion_se + 1e-15).all()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 5000),
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=8),
    st.sampled_from(["proportional", "equal", "min:0", "min:5", "min:50"]),
)
def test_law_allocation_sums_to_n(n: int, mapped: list[float], method: str) -> None:
    w = np.asarray(mapped)
    assume(w.sum() > 0)
    active = w > 0
    if method.startswith("min:"):
        assume(int(method[4:]) * active.sum() <= n)
    alloc = allocate_sample(n, mapped, method)
    assert alloc.dtype == np.int64
    assert int(alloc.sum()) == n
    assert (alloc >= 0).all()
    assert (alloc[~active] == 0).all()
    if method.startswith("min:"):
        assert (alloc[active] >= int(method[4:])).all()
    if method == "equal":
        assert alloc[active].max() - alloc[active].min() <= 1
    if method == "proportional":
        quota = n * w / w.sum()
        assert (np.abs(alloc.to_numpy() - quota) < 1.0 + 1e-9).all()


@settings(max_examples=60, deadline=None)
@given(count_matrices(max_count=10))
def test_law_renderers_parse(matrix: np.ndarray) -> None:
    assume(matrix.sum() > 0)
    report = AccuracyReport(confusion=confusion_statistics(matrix))
    payload = json.loads(report.render("json"))
    assert payload["confusion"]["matrix"]["values"] == matrix.tolist()
    table = pd.read_csv(io.StringIO(report.render("csv")))
    assert len(table) == len(report.to_frame())
    assert report.render("markdown").startswith("# ")


# ---------------------------------------------------------------------------------------
# Report rendering
# ---------------------------------------------------------------------------------------


@pytest.fixture
def full_report(olofsson: AreaEstimate) -> AccuracyReport:
    stats = confusion_statistics(OLOFSSON_COUNTS, OLOFSSON_CLASSES, polygon_counts=[12, 9, 30, 41])
    return AccuracyReport(
        confusion=stats,
        area=olofsson,
        kind="design-based",
        title="Olofsson 2014 example",
        notes=["stratified random sample, strata = map classes"],
        metadata={
            "map": Path("out/map.tif"),
            "pixels": np.int64(10_000_000),
            "nodata": np.float64(np.nan),
        },
    )


def test_report_json(full_report: AccuracyReport) -> None:
    text = full_report.render("json")
    assert "NaN" not in text
    data = json.loads(text)
    assert data["kind"] == "design-based"
    assert data["notes"] == ["stratified random sample, strata = map classes"]
    assert data["metadata"] == {"map": "out/map.tif", "pixels": 10_000_000, "nodata": None}
    conf = data["confusion"]
    assert conf["class_names"] == OLOFSSON_CLASSES
    assert conf["matrix"]["values"] == OLOFSSON_COUNTS
    assert conf["classes"][0]["polygon_count"] == 12
    assert conf["classes"][0]["users_accuracy"] == pytest.approx(66 / 75)
    area = data["area_estimate"]
    assert area["method"] == "olofsson2014"
    assert area["overall_accuracy"]["value"] == pytest.approx(0.9465119, abs=TOL_7DP)
    defo = area["classes"][0]
    assert defo["class"] == "deforestation"
    assert defo["mapped_pixels"] == 200_000
    assert defo["area_ha"]["value"] == pytest.approx(21_157.76, abs=TOL_2DP)
    assert defo["area_ha"]["ci_high"] - defo["area_ha"]["value"] == pytest.approx(
        6_157.63, abs=TOL_2DP
    )
    assert area["strata"][0] == {
        "stratum": "deforestation",
        "stratum_size": 200_000,
        "sample_size": 75,
    }
    assert full_report.to_dict() == data


def test_report_json_turns_nan_into_null() -> None:
    report = AccuracyReport(confusion=confusion_statistics([[3, 0], [0, 0]], ["a", "b"]))
    data = json.loads(report.to_json())
    assert data["confusion"]["kappa"]["value"] is None
    assert data["confusion"]["classes"][1]["users_accuracy"] is None
    assert data["area_estimate"] is None


def test_report_csv_is_tidy(full_report: AccuracyReport) -> None:
    table = pd.read_csv(
        io.StringIO(full_report.render("csv")), keep_default_na=False, na_values=[""]
    )
    assert list(table.columns) == [
        "kind",
        "section",
        "class",
        "reference_class",
        "metric",
        "value",
        "se",
        "ci_low",
        "ci_high",
    ]
    assert set(table["kind"]) == {"design-based"}
    key = ["section", "class", "reference_class", "metric"]
    assert not table.duplicated(subset=key).any()
    row = table[
        (table["section"] == "area_estimate")
        & (table["class"] == "deforestation")
        & (table["metric"] == "area_ha")
    ].iloc[0]
    assert row["value"] == pytest.approx(21_157.76, abs=TOL_2DP)
    assert row["ci_high"] - row["value"] == pytest.approx(6_157.63, abs=TOL_2DP)
    cell = table[
        (table["section"] == "confusion")
        & (table["metric"] == "count")
        & (table["class"] == "stable_forest")
        & (table["reference_class"] == "stable_nonforest")
    ].iloc[0]
    assert cell["value"] == 11
    ua = table[(table["section"] == "confusion") & (table["metric"] == "users_accuracy")]
    assert sorted(ua["class"]) == sorted(OLOFSSON_CLASSES)
    kappa = table[table["metric"] == "kappa"].iloc[0]
    assert kappa["ci_low"] < kappa["value"] < kappa["ci_high"]


def test_report_markdown(full_report: AccuracyReport) -> None:
    text = full_report.render("markdown")
    assert text.startswith("# Olofsson 2014 example\n")
    for name in OLOFSSON_CLASSES:
        assert f"| **{name}** |" in text  # matrix rows labelled by class name
    assert "| map \\ reference | deforestation | forest_gain |" in text
    assert "- stratified random sample, strata = map classes" in text
    assert "0.9465 ± 0.0185" in text  # area-adjusted overall accuracy
    assert "21,157.8 ± 6,157.6" in text  # deforestation area (ha)
    assert "0.8800 ± 0.0740" in text  # UA deforestation with CI
    assert "0.7487 ± 0.2133" in text  # PA deforestation with CI
    assert "reference polygons" in text
    # Every table row has the same number of cells as its header.
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {ln.replace("\\|", "").count("|") for ln in lines}
            assert len(widths) == 1, block


def test_report_markdown_flags_fit_diagnostic_and_escapes_pipes() -> None:
    stats = confusion_statistics([[5, 1], [2, 7]], ["a|b", "c"])
    text = AccuracyReport(
        confusion=stats, kind="fit diagnostic", notes=["pixel-level split: optimistic"]
    ).to_markdown()
    assert "**Kind:** fit diagnostic" in text
    assert "optimistic and are not an accuracy assessment" in text
    assert "a\\|b" in text
    assert "n/a" not in text


def test_report_markdown_pixels_without_pixel_area() -> None:
    est = stehman_estimate(STEHMAN_MAP, STEHMAN_REF, STEHMAN_STRATA, STEHMAN_SIZES)
    text = AccuracyReport(area=est).to_markdown()
    assert "estimated area (pixels" in text
    assert "Stehman (2014)" in text
    assert "35,000.0 ± " in text  # area of A = 0.35 * 100,000 pixels
    assert "mapped area" not in text


def test_format_for_path_and_render_dispatch(full_report: AccuracyReport) -> None:
    assert format_for_path("a/b/report.JSON") == "json"
    assert format_for_path(Path("r.md")) == "markdown"
    assert format_for_path("r.markdown") == "markdown"
    assert format_for_path("r.csv") == "csv"
    with pytest.raises(AccuracyError, match=r"use \.json, \.md or \.csv"):
        format_for_path("report.txt")
    with pytest.raises(AccuracyError, match="unsupported extension"):
        format_for_path("report")
    assert full_report.render("json") == full_report.to_json()
    assert full_report.render("markdown") == full_report.to_markdown()
    assert full_report.render("csv") == full_report.to_csv()
    with pytest.raises(AccuracyError, match="unknown report format"):
        full_report.render("html")  # type: ignore[arg-type]


def test_report_validation(cg1: ConfusionStatistics) -> None:
    with pytest.raises(AccuracyError, match="report kind"):
        AccuracyReport(confusion=cg1, kind="test set")  # type: ignore[arg-type]
    with pytest.raises(AccuracyError, match="needs confusion statistics"):
        AccuracyReport()
    with pytest.raises(AccuracyError, match="ConfusionStatistics"):
        AccuracyReport(confusion=[[1, 0], [0, 1]])  # type: ignore[arg-type]
    report = AccuracyReport(confusion=cg1, kind="cross-validation", notes="grouped by polygon")
    assert report.notes == ["grouped by polygon"]
