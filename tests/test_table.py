"""utils.table.Table: the same table as aligned text (terminal, nbval) and as HTML (the page)."""

import pytest

from utils.table import Table


def test_text_and_html_hold_the_same_cells():
    t = Table(["network", "parameters", "top-5"], [["AlexNet", 61_100_840, "16.4%"],
                                                  ["VGG-16", 138_357_544, "7.3%"]],
              title="ImageNet", note="counted by the code")
    assert str(t) == repr(t) == (
        "ImageNet\n"
        "network   parameters  top-5\n"
        "---------------------------\n"
        "AlexNet   61,100,840  16.4%\n"
        "VGG-16   138,357,544  7.3%\n"
        "counted by the code")
    html = t._repr_html_()
    assert html.count("<tr>") == 3 and '<th style="text-align:right">parameters</th>' in html
    assert '<td style="text-align:right">138,357,544</td>' in html
    assert "<b>ImageNet</b>" in html and "counted by the code" in html


def test_values_are_escaped_and_alignment_can_be_chosen():
    t = Table(["a", "b"], [["<x>", 1.5]], align="rl")
    assert "&lt;x&gt;" in t._repr_html_() and t.align == "rl"
    assert str(t).splitlines()[-1] == "<x>  1.5"


@pytest.mark.parametrize("kwargs, message", [
    (dict(columns=["a", "b"], rows=[[1]]), "row 0 has 1 values for 2 columns (a, b)"),
    (dict(columns=["a"], rows=[[1]], align="x"), "align='x'"),
    (dict(columns=["a", "b"], rows=[[1, 2]], align="l"), "for each of the 2 columns"),
])
def test_a_malformed_table_is_refused_with_a_reason(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Table(**kwargs)
