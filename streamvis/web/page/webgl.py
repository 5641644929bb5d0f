"""Choosing the drawing backend: WebGL where the GPU does it, canvas where it does not.

A browser without a GPU (headless Chromium with ``--disable-gpu``, a VM) renders
WebGL in software (SwiftShader, llvmpipe), where lines redraw 20-150 times slower
than on a canvas. ``webgl=auto`` therefore asks the browser once: the page is first
built for canvas with a small probe that reads WebGL's renderer string, remembers
the answer in a cookie, and reloads once if the GPU is real. Later pages are built
for the remembered backend. ``webgl=on`` and ``off`` force one.
"""

from __future__ import annotations

from collections.abc import Mapping

from bokeh.models import CustomJS

__all__ = ["COOKIE", "use_webgl", "probe_js"]

COOKIE = "streamvis-webgl"  # "hw": a GPU renders WebGL; "sw": software only

_PROBE = """
const known = document.cookie.split('; ').some(c => c.startsWith(name + '='));
if (known) return;
let kind = 'sw';
try {
  const gl = document.createElement('canvas').getContext('webgl');
  if (gl) {
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const r = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    kind = /swiftshader|llvmpipe|softpipe|software|microsoft basic render/i.test(r) ? 'sw' : 'hw';
  }
} catch (e) { kind = 'sw'; }
document.cookie = name + '=' + kind + '; path=/; max-age=31536000; SameSite=Lax';
if (kind === 'hw') window.location.reload();
"""


def use_webgl(mode: str, cookies: Mapping[str, str]) -> tuple[bool, bool]:
    """(draw with WebGL, add the probe) for a page's ``webgl`` mode and its cookies."""
    if mode == "on":
        return True, False
    if mode == "off":
        return False, False
    known = cookies.get(COOKIE)
    if known in ("hw", "sw"):
        return known == "hw", False
    return False, True


def probe_js() -> CustomJS:
    """The probe run when the document is ready (see the module doc)."""
    return CustomJS(args={"name": COOKIE}, code=_PROBE)
