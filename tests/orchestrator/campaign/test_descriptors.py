"""Descriptor tables of categorical parameters: read strictly, errors that point at the file."""

from __future__ import annotations

from pathlib import Path

from tansaku.campaign.loading import load_campaign
from tests.conftest import campaign_beside, campaign_problems

SOLVENTS = """\
name,smiles,polarity,boiling_point_c,class,density
dmf,CN(C)C=O,6.4,153,amide,0.95
dmso,CS(C)=O,7.2,189,sulfoxide,0.95
toluene,Cc1ccccc1,2.4,111,aromatic,0.95
water,O,10.2,100,protic,0.95
"""

CAMPAIGN = """
name: solvents
budget: {experiments: 10}
space:
  - {name: temperature, type: continuous, bounds: [20, 120]}
  - name: solvent
    type: categorical
    values: [dmf, toluene, dmso]
    descriptors: {path: solvents.csv}
objectives:
  - {name: y, goal: maximize}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""


def write(tmp_path: Path, table: str = SOLVENTS, **replace: str) -> Path:
    return campaign_beside(tmp_path, CAMPAIGN, "solvents.csv", table, **replace)


def test_usable_columns_are_the_numeric_ones_that_tell_the_values_apart(tmp_path: Path) -> None:
    table = load_campaign(write(tmp_path)).descriptors()["solvent"]

    # Text columns and the density (the same for every solvent) carry no information.
    assert table.columns == ("polarity", "boiling_point_c")
    # Rows follow the parameter's values, not the file: dmf, toluene, dmso.
    assert table.rows == ((6.4, 153.0), (2.4, 111.0), (7.2, 189.0))


def test_named_columns_and_key_are_used_as_given(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        **{
            "values: [dmf, toluene, dmso]": "values: [CN(C)C=O, O]",
            "{path: solvents.csv}": "{path: solvents.csv, key: smiles, columns: [polarity]}",
        },
    )
    assert load_campaign(path).descriptors()["solvent"].rows == ((6.4,), (10.2,))


def test_a_value_without_a_row_is_named_with_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, **{"[dmf, toluene, dmso]": "[dmf, toluene, acetone, hexane]"})
    message = campaign_problems(path)
    assert f"{path}:8:" in message  # the `descriptors:` line
    assert "space[1].descriptors" in message
    assert "solvents.csv has no row for 'acetone', 'hexane' (in column 'name')" in message


def test_a_missing_key_column_lists_the_columns_there_are(tmp_path: Path) -> None:
    path = write(tmp_path, **{"{path: solvents.csv}": "{path: solvents.csv, key: solvent}"})
    message = campaign_problems(path)
    assert "solvents.csv has no column 'solvent'; its columns: name, smiles, polarity," in message
    assert "(and 1 more)" in message  # six columns, five named


def test_named_columns_must_exist_and_hold_numbers(tmp_path: Path) -> None:
    unknown = write(tmp_path, **{"{path: solvents.csv}": "{path: solvents.csv, columns: [pka]}"})
    assert "solvents.csv has no column 'pka'" in campaign_problems(unknown)
    text = write(tmp_path, **{"{path: solvents.csv}": "{path: solvents.csv, columns: [class]}"})
    message = campaign_problems(text)
    assert "'class' in solvents.csv must hold a finite number for every value" in message


def test_a_table_that_cannot_tell_the_values_apart_is_refused(tmp_path: Path) -> None:
    flat = "name,density\ndmf,0.95\ntoluene,0.95\ndmso,0.95\n"
    assert "no numeric column that differs between the parameter's values" in campaign_problems(
        write(tmp_path, table=flat)
    )


def test_duplicate_rows_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    doubled = SOLVENTS + "dmf,CN(C)C=O,6.5,153,amide,0.95\n"
    message = campaign_problems(write(tmp_path, table=doubled))
    assert "solvents.csv has several rows for 'dmf'" in message
    path = write(tmp_path)
    (tmp_path / "solvents.csv").unlink()
    assert "cannot read" in campaign_problems(path) and "solvents.csv" in campaign_problems(path)


def test_changed_descriptors_make_another_campaign(tmp_path: Path) -> None:
    # A resumed campaign must model with the numbers its first experiments were chosen by.
    from tansaku.campaign.fingerprint import fingerprint

    path = write(tmp_path)
    before = fingerprint(load_campaign(path))
    (tmp_path / "solvents.csv").write_text(SOLVENTS.replace("6.4", "6.5"))
    assert fingerprint(load_campaign(path)) != before
    (tmp_path / "solvents.csv").write_text(SOLVENTS)
    assert fingerprint(load_campaign(path)) == before
