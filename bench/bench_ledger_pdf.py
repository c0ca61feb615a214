"""The 发放台账 PDF of 10,000 rows through the chunked renderer (app.payments.reports.ledger_pdf) vs. rendering
one page of the same template in the same run (performance.md: one WeasyPrint document of 10,000 table rows takes
65 s and 1.37 GB; the targets for the ledger are under 60 s and under 400 MB).

Run: ``uv run python -m bench.bench_ledger_pdf`` (no database). The 10,000-row render runs in a fresh child
process (spawned, not forked), so its peak RSS is that of the render alone: interpreter, WeasyPrint, the rows and
one chunk's layout. The baseline is the best case per page: one full page of rows rendered as a document of its
own on a warm process (median of several), times the number of pages. The ratio to it is the figure to watch;
absolute times drift with the machine.
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import sys
import time
from datetime import date

from app.payments import reports
from app.payments.reports import LedgerDoc, LedgerRow

ROWS = 10_000
BASELINE_ROUNDS = 7
TARGET_SECONDS = 60.0
TARGET_MB = 400.0
VILLAGES = ("前方庄村", "后方庄村", "城关镇东关村", "李庄村", "黄德镇西街村民委员会第三村民小组")
SURNAMES = "王李张刘陈杨赵黄周吴"


def synthetic_doc(n: int) -> LedgerDoc:
    rows = [
        LedgerRow(
            seq=i,
            village=VILLAGES[i % len(VILLAGES)],
            name=SURNAMES[i % 10] + ("建国" if i % 7 else "娜仁其木格"),
            id_masked=f"410727********{i % 10_000:04d}",
            account_masked=f"6217************{(i * 7) % 10_000:04d}",
            months="2026-03至2026-09（7个月）" if i % 9 == 0 else "2026-10",
            amount=26_000 * (7 if i % 9 == 0 else 1),
            status="待银行处理",
            reference=f"FQ-PEN-202611-{i:06d}",
        )
        for i in range(1, n + 1)
    ]
    return LedgerDoc(
        title="被征地农民养老金发放台账",
        batch_no="FQ-PEN-202611-0001",
        county="封丘县",
        scope="全县",
        period="2026年11月",
        generated_on=date(2026, 11, 5),
        rows=rows,
    )


def _max_rss_mb() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 1024 / 1024  # bytes on macOS


def render_full(n: int) -> tuple[float, float, float, int, int]:
    """In the child: (wall seconds, CPU seconds, peak RSS in MB, pages, bytes) of ``ledger_pdf`` over ``n``
    synthetic rows."""
    from io import BytesIO

    from pypdf import PdfReader

    doc = synthetic_doc(n)
    start, cpu_start = time.perf_counter(), time.process_time()
    data = reports.ledger_pdf(doc)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rss = _max_rss_mb()
    pages = len(PdfReader(BytesIO(data)).pages)
    return seconds, cpu, rss, pages, len(data)


def page_baseline() -> float:
    """Median seconds to render one full page (ROWS_PER_PAGE rows, not the last page) as its own document."""
    from weasyprint.text.fonts import FontConfiguration

    doc = synthetic_doc(2 * reports.ROWS_PER_PAGE)
    html = next(reports.ledger_chunks(doc, rows_per_page=reports.ROWS_PER_PAGE, pages_per_chunk=1))
    font_config = FontConfiguration()
    reports.render_chunk(html, font_config)  # warm up
    samples = []
    for _ in range(BASELINE_ROUNDS):
        start = time.perf_counter()
        reports.render_chunk(html, font_config)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    per_page = page_baseline()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        seconds, cpu, rss, pages, size = pool.apply(render_full, (ROWS,))
    expected = len(reports.page_rows(synthetic_doc(ROWS).rows, reports.ROWS_PER_PAGE))
    baseline = per_page * pages
    print(
        f"ledger PDF, {ROWS:,} rows: {pages} pages (expected {expected}), {size / 1e6:.1f} MB, "
        f"{reports.ROWS_PER_PAGE} rows/page, {reports.PAGES_PER_CHUNK} pages/chunk"
    )
    print(
        f"{'wall seconds':32} {seconds:9.1f}   target < {TARGET_SECONDS:.0f} s: {'met' if seconds < TARGET_SECONDS else 'NOT met'}"
    )
    print(
        f"{'peak RSS of the render (MB)':32} {rss:9.0f}   target < {TARGET_MB:.0f} MB: {'met' if rss < TARGET_MB else 'NOT met'}"
    )
    print(
        f"{'CPU seconds of the render':32} {cpu:9.1f}   (below the wall time when other work shares the cores)"
    )
    print(f"{'one page alone (s)':32} {per_page:9.3f}")
    print(f"{'per-page baseline × pages (s)':32} {baseline:9.1f}")
    print(f"{'ratio to per-page baseline':32} {seconds / baseline:9.2f}")


if __name__ == "__main__":
    main()
