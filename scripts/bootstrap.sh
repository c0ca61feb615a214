#!/usr/bin/env bash
# Make this machine ready to run Anzhi: Debian packages, uv, and the project's virtualenv (.venv).
#
# Sourced by scripts/serve.sh, scripts/test.sh and .ci/run (then it also leaves the caller in the repository root
# with `uv` on PATH); it can also be run on its own: `bash scripts/bootstrap.sh`.
# Idempotent and silent when everything is already in place.

set -euo pipefail

anzhi_bootstrap() {
    local root
    root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
    cd -- "$root"

    # WeasyPrint (Pango, HarfBuzz subsetting) and CJK fonts at run time; python3 + venv to set up; poppler-utils
    # (pdffonts, pdftotext, pdftoppm) for the tests that check the PDFs' fonts and text; chromium for the browser
    # tests (Playwright drives Debian's Chromium: `playwright install` cannot download browsers offline).
    local packages=(python3 python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
        poppler-utils chromium)
    local missing=() pkg

    if command -v dpkg-query >/dev/null 2>&1; then
        for pkg in "${packages[@]}"; do
            # -W succeeds for removed-but-not-purged packages too, so look at the status itself.
            if ! dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null | grep -qx installed; then
                missing+=("$pkg")
            fi
        done
    else
        echo "警告：未找到 dpkg-query，跳过系统软件包检查（本脚本面向 Debian 12）。" >&2
        echo "Warning: dpkg-query not found; skipping the system package check (this script targets Debian 12)." >&2
    fi

    if ((${#missing[@]} > 0)); then
        if [[ "$(id -u)" -eq 0 ]]; then
            echo "正在安装系统软件包 / Installing system packages: ${missing[*]}" >&2
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
        else
            echo "缺少系统软件包，请先运行以下命令后重试：" >&2
            echo "Missing system packages; run this command, then try again:" >&2
            echo >&2
            echo "    sudo apt-get install -y ${missing[*]}" >&2
            echo >&2
            exit 1
        fi
    fi

    # uv: the one on PATH if it works, else a private copy in .tools/ (pip refuses the system Python, PEP 668).
    if ! uv --version >/dev/null 2>&1; then
        if [[ ! -x .tools/bin/uv ]]; then
            echo "正在安装 uv 到 .tools/ / Installing uv into .tools/" >&2
            python3 -m venv .tools
            .tools/bin/python -m pip install --quiet --disable-pip-version-check uv
        fi
        PATH="$root/.tools/bin:$PATH"
        export PATH
    fi

    # Only the system Python: uv cannot download interpreters here.
    export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"

    local sync_args=(sync --python python3)
    if [[ -f uv.lock ]]; then
        sync_args+=(--frozen)
    else
        echo "警告：没有 uv.lock，将重新解析依赖 / Warning: no uv.lock; resolving dependencies afresh." >&2
    fi
    if [[ -x .venv/bin/python ]]; then
        uv "${sync_args[@]}" --quiet
    else
        echo "正在安装 Python 依赖到 .venv/ / Installing Python dependencies into .venv/" >&2
        uv "${sync_args[@]}"
    fi
}

anzhi_bootstrap
unset -f anzhi_bootstrap
