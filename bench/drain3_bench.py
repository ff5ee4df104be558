#!/usr/bin/env python3
"""Mining speed of Drain3's TemplateMiner, for comparison with `logwarden parse`.

Reads the first --lines lines of a log, splits off the header with the Loghub format (the same
<Field> notation as logwarden's --format, turned into a regex the way the Loghub loaders do), and
times only TemplateMiner.add_log_message() on the Content field. Header splitting and file reading
are outside the timed part, so the figure favours Drain3 slightly.

Masking is the one documented in Drain3's README and examples/drain3.ini (IDs, IPs, hex
sequences, hex numbers, signed integers, with mask prefix "<:" and suffix ":>"); the other
settings are TemplateMinerConfig's defaults (sim_th 0.4, depth 4, max_children 100). Persistence
and profiling are off.

Prints "key value" lines: drain3_version, lines, seconds, drain3_lines_per_s, templates.
"""
import argparse
import re
import sys
import time
from importlib import metadata

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

# From Drain3's README / examples/drain3.ini, [MASKING] section.
README_MASKING = [
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
    (r"(?<=executed cmd )(\".+?\")", "CMD"),
]


def format_regex(log_format):
    """The Loghub loaders' generate_logformat_regex(): fields become named lazy groups."""
    parts = re.split(r"(<[^<>]+>)", log_format)
    regex = ""
    for k, part in enumerate(parts):
        if k % 2 == 0:
            regex += re.sub(" +", "\\\\s+", part)
        else:
            regex += "(?P<%s>.*?)" % part.strip("<>")
    return re.compile("^" + regex + "$")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", required=True, help="Loghub header format, with <Content>")
    ap.add_argument("--lines", type=int, default=200000, help="lines to mine (default 200000)")
    ap.add_argument("log")
    args = ap.parse_args()

    rx = format_regex(args.format)
    contents = []
    with open(args.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            if len(contents) >= args.lines:
                break
            m = rx.match(line.rstrip("\r\n"))
            contents.append(m.group("Content") if m else line.rstrip("\r\n"))

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.mask_prefix = "<:"
    config.mask_suffix = ":>"
    config.masking_instructions = [MaskingInstruction(p, name) for p, name in README_MASKING]
    miner = TemplateMiner(persistence_handler=None, config=config)

    t0 = time.perf_counter()
    for c in contents:
        miner.add_log_message(c)
    secs = time.perf_counter() - t0

    print("drain3_version", metadata.version("drain3"))
    print("lines", len(contents))
    print("seconds %.3f" % secs)
    print("drain3_lines_per_s %.0f" % (len(contents) / secs if secs > 0 else 0))
    print("templates", len(miner.drain.clusters))
    return 0


if __name__ == "__main__":
    sys.exit(main())
