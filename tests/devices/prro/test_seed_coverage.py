"""Every message and symptom of seeds 000 and 001 is shown by some bundled ПРРО scenario."""

from pathlib import Path

from emulator.devices.prro.messages import message_table
from emulator.scenario import expand_paths, load_file, run_scenario

ROOT = Path(__file__).resolve().parents[3] / "scenarios" / "prro"


def test_every_seed_message_arises_in_a_bundled_scenario():
    logs = []
    for path in expand_paths([ROOT]):
        for sc in load_file(path):
            result = run_scenario(sc)
            assert result.passed, result.failures
            logs.append(result.log_text)
    shown = {line.split(" ", 3)[3] for log in logs for line in log.splitlines() if line.startswith("[A]")}
    seeds = {m.text for m in message_table().values() if m.source in ("S000", "S001")}
    assert seeds <= shown, f"never shown: {sorted(seeds - shown)}"
    # the correct procedures end with the ПРРО online and a receipt fiscalized under the new key
    assert any("Квитанція №2" in log and "Sale 48.00: fiscal number" in log for log in logs)
