"""utils.epilogue: the epilogue's table reads the chapters' records, and cannot drift from them.

- ``lookup`` finds a number by its path of keys, with the table it comes from;
- ``Records.check_size`` passes only when the computed size equals the record, says so when a
  record does not exist yet, and fails when a chapter has neither a record nor awaited numbers;
- ``Records.number`` takes an awaited (typed) number only while the record is missing, and fails
  as soon as the record disagrees with it;
- ``Records.headline`` reads the ``utils.results`` headline, or an accuracy, or says why none;
- the comparisons' wording, and the figures on a small table.
"""

import json

import matplotlib
import pytest

matplotlib.use("Agg")

from utils import epilogue  # noqa: E402
from utils.results import read_results  # noqa: E402


def write(folder, key, reference):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.json").write_text(json.dumps({"chapter": key, "reference": reference,
                                                    "runs": []}), encoding="utf-8")


@pytest.fixture
def records(tmp_path):
    results, chapters = tmp_path / "results", tmp_path / "chapters"
    chapters.mkdir()
    write(results, "resnet", {
        "imagenet": {"network": "ResNet-50", "params": 25_557_032, "macs": 4_089_184_256},
        "paper": {"table_3_ten_crop": {"ResNet-50": {"top1_error": 22.85, "top5_error": 6.71},
                                       "source": "Table 3 (10-crop testing)"}}})
    write(results, "inception_v4", {
        "imagenet": {"params": 42_679_816, "macs": 12_253_974_624},
        "paper": {"single_crop": {"Inception-v4": {"top1_error": 20.0, "top5_error": 5.0}},
                  "single_crop_source": "Table 2 (single crop)"}})
    write(results, "mobilenet", {
        "imagenet": {"params": 4_231_976, "macs": 568_740_352},
        "paper": {"table_6_width": {"0.75": {"top1": 68.4}, "1.0": {"top1": 70.6},
                                    "source": "Table 6"}}})
    write(results, "nin", {"imagenet": {"params": 7_595_176, "macs": 1_100_188_800},
                           "paper": {"imagenet": "no ImageNet result in the paper"}})
    chapters_read = read_results(results, chapters)
    return epilogue.Records(chapters_read, awaited={
        "mobilenet": {"table_6_width/1.0/top1": 70.6},
        "efficientnet": {"table_2_icml/B0/top1": (76.3, "Table 2"), "table_2_icml/B0/top5": 93.2}})


def test_lookup_finds_a_number_and_its_source():
    paper = {"table_3": {"source": "Table 3 (one crop)", "ResNet-50": {"top1_error": 23.9}},
             "single_crop": {"v4": {"top1_error": 20.0}}, "single_crop_source": "Table 2",
             "note": "text"}
    assert epilogue.lookup(paper, "table_3/ResNet-50/top1_error") == (23.9, "Table 3 (one crop)")
    assert epilogue.lookup(paper, "single_crop/v4/top1_error") == (20.0, "Table 2")
    with pytest.raises(KeyError):
        epilogue.lookup(paper, "table_3/ResNet-101/top1_error")
    with pytest.raises(KeyError, match="not a number"):
        epilogue.lookup(paper, "note")


def test_check_size_equal_missing_or_wrong(records):
    found = records.check_size("resnet", 25_557_032, 4_089_184_256)
    assert found.checked and found.words == "equal to results/resnet.json"
    with pytest.raises(AssertionError, match="the chapter recorded 25,557,032"):
        records.check_size("resnet", 25_557_033, 4_089_184_256)
    waiting = records.check_size("efficientnet", 5_288_548, 385_814_752)   # no record yet
    assert not waiting.checked and "not written yet" in waiting.words
    with pytest.raises(AssertionError, match="does not exist"):
        records.check_size("densenet", 1, 1)                     # neither a record nor awaited


def test_a_record_without_its_references_yet_counts_as_awaited(tmp_path, records):
    """A cpu run writes its record before the chapter's last cells record the references."""
    write(tmp_path / "partial", "efficientnet", {})
    partial = read_results(tmp_path / "partial", tmp_path)
    records = epilogue.Records(partial, awaited=records.awaited)
    found = records.check_size("efficientnet", 5_288_548, 385_814_752)
    assert not found.checked and "no reference numbers yet" in found.words
    assert records.headline("efficientnet")["top1"] == 23.7


def test_awaited_numbers_are_used_until_the_record_exists_then_checked(records):
    assert records.number("efficientnet", "table_2_icml/B0/top1") == (76.3, "Table 2")
    assert records.number("efficientnet", "table_2_icml/B0/top5") == (93.2, None)
    assert records.number("efficientnet", "table_7/compound", optional=True) == (None, None)
    with pytest.raises(KeyError):
        records.number("efficientnet", "table_7/compound")
    assert records.number("mobilenet", "table_6_width/1.0/top1") == (70.6, "Table 6")
    records.awaited["mobilenet"]["table_6_width/1.0/top1"] = 70.7     # typed wrong
    with pytest.raises(AssertionError, match="correct the epilogue's number"):
        records.number("mobilenet", "table_6_width/1.0/top1")


def test_headlines(records):
    assert records.headline("resnet") == {"top1": 22.85, "top5": 6.71, "note": None,
                                          "source": "Table 3 (10-crop testing)"}
    assert records.headline("inception_v4")["source"] == "Table 2 (single crop)"  # sibling source
    assert records.headline("mobilenet") == {"top1": 29.4, "top5": None, "source": "Table 6",
                                             "note": None}   # its own row, 100 - 70.6, no noise
    assert records.headline("efficientnet") == {"top1": 23.7, "top5": 6.8, "source": "Table 2",
                                                "note": None}             # awaited
    nin = records.headline("nin")
    assert nin["top1"] is None and nin["note"] == "no ImageNet result in the paper"


def test_comparisons_in_words():
    assert epilogue.times(138_357_544, 60_965_224) == "×2.27"
    assert epilogue.times(25_557_032, 138_357_544) == "÷5.41"
    assert epilogue.times(60_965_224, 60_000) == "×1,016"
    assert epilogue.times(4_091_699_200, 4_089_184_256) == "×1.0006"
    assert epilogue.points(22.85, 25.6) == "−2.75" and epilogue.points(21.2, 25.2) == "−4.0"
    assert epilogue.points(10.07, 8.1) == "+1.97" and epilogue.points(None, 8.1) == "–"
    assert epilogue.short_source("Table 2 (ILSVRC-2012 validation set)") == "Table 2"
    assert epilogue.short_source("§4.2, Figure 4") == "Figure 4"
    assert epilogue.short_source("table_3/BN-Inception/top1_error") == "Table 3"
    assert epilogue.short_source(None) is None and epilogue.error_from_accuracy(72.0) == 28.0


def row(key, name, year, params, macs, top1, top5, imagenet=True):
    return {"key": key, "name": name, "year": year, "params": params, "macs": macs,
            "imagenet": imagenet, "top1": top1, "top5": top5, "note": None,
            "weight_bytes": 4 * params, "activation_bytes": params // 3 + 10_000_000}


def test_the_figures_draw_every_network_once():
    rows = [row("lenet5", "LeNet-5", 1998, 60_000, 415_680, None, None, imagenet=False),
            row("alexnet", "AlexNet", 2012, 60_965_224, 724_406_816, 40.7, 18.2),
            row("vgg", "VGG-16", 2014, 138_357_544, 15_470_264_320, 25.6, 8.1),
            row("googlenet", "GoogLeNet", 2014, 6_998_552, 1_582_671_872, None, 10.07),
            row("resnet", "ResNet-50", 2015, 25_557_032, 4_089_184_256, 22.85, 6.71)]

    def texts(fig):
        return [t.get_text() for ax in fig.axes for t in ax.texts]

    year = texts(epilogue.errors_by_year(rows))
    assert "GoogLeNet 10.07" in year and "GoogLeNet" not in " ".join(year[:3])   # top-5 only
    assert sum(t.startswith("AlexNet") for t in year) == 2 and not any(t.startswith("LeNet") for t in year)
    macs = texts(epilogue.errors_by_macs(rows))
    assert sorted(macs) == sorted(["AlexNet (2012)", "VGG-16 (2014)", "ResNet-50 (2015)"] * 2
                                  + ["GoogLeNet (2014)"])
    params = texts(epilogue.params_by_year(rows))
    assert "LeNet-5\n 60k" in params and len(params) == 5
    assert len(epilogue.params_by_year(rows).axes) == 2                  # 1998 on an axis of its own
    memory = texts(epilogue.memory(rows))
    assert {"AlexNet", "VGG-16", "GoogLeNet", "ResNet-50"} <= set(memory) and "LeNet-5" not in memory
