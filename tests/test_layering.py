"""The core knows no UI: importing every control_tower module pulls in neither Streamlit nor
LangChain."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import control_tower


def test_core_imports_neither_streamlit_nor_langchain():
    modules = [m.name for m in pkgutil.walk_packages(control_tower.__path__, "control_tower.")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'langchain', "
        "'langchain_core'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported UI/LLM modules: {out.stdout}"
    assert len(modules) >= 5
