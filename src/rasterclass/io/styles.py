"""Styles and metadata sidecars: how class maps and probability layers describe themselves.

Owns the text of the files written beside a raster: the GDAL PAM ``.aux.xml`` of a class map
(category names and a thematic raster attribute table, :func:`class_map_pam_xml`) and the
QGIS ``.qml`` default styles of a class map (:func:`class_map_qml`) and of a probability file
(:func:`probabilities_qml`). Pure string building: nothing here opens a file.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from rasterclass.classes import ClassMap


def class_map_pam_xml(cm: ClassMap) -> str:
    """GDAL PAM XML with CategoryNames and a thematic raster attribute table for band 1.

    Both are indexed by code: category ``i`` names code ``i``, attribute table rows are in
    code order.
    """
    names = [""] * (max(cm.codes) + 1)
    for code, name in zip(cm.codes, cm.names, strict=True):
        names[code] = name
    cats = "\n".join(f"      <Category>{escape(n)}</Category>" for n in names)
    fields = [("Value", 0, 5), ("Class_Name", 2, 2), ("Red", 0, 6), ("Green", 0, 7)]
    fields += [("Blue", 0, 8), ("Alpha", 0, 9)]
    fdefs = "\n".join(
        f'      <FieldDefn index="{i}">\n        <Name>{n}</Name>\n        <Type>{t}</Type>\n'
        f"        <Usage>{u}</Usage>\n      </FieldDefn>"
        for i, (n, t, u) in enumerate(fields)
    )
    rows = []
    for r, i in enumerate(cm.code_order()):
        code, name, rgba = cm.codes[i], cm.names[i], cm.colors[i]
        cells = [str(code), escape(name), *(str(v) for v in rgba)]
        rows.append(f'      <Row index="{r}">' + "".join(f"<F>{c}</F>" for c in cells) + "</Row>")
    return (
        "<PAMDataset>\n"
        '  <PAMRasterBand band="1">\n'
        "    <CategoryNames>\n"
        f"{cats}\n"
        "    </CategoryNames>\n"
        '    <GDALRasterAttributeTable tableType="thematic">\n'
        f"{fdefs}\n" + "\n".join(rows) + "\n"
        "    </GDALRasterAttributeTable>\n"
        "  </PAMRasterBand>\n"
        "</PAMDataset>\n"
    )


def class_map_qml(cm: ClassMap) -> str:
    """A QGIS style (paletted renderer with class names) that QGIS loads as the default.

    Entries are in the class map's order (legend order, else code order): the order of the
    QGIS legend.
    """
    entries = "\n".join(
        f'        <paletteEntry value="{code}" color="#{r:02x}{g:02x}{b:02x}" alpha="{a}" '
        f'label="{escape(name, {chr(34): "&quot;"})}"/>'
        for code, name, (r, g, b, a) in zip(cm.codes, cm.names, cm.colors, strict=True)
    )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="AllStyleCategories">\n'
        "  <pipe>\n"
        '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" '
        'nodataColor="">\n'
        "      <rasterTransparency/>\n"
        "      <colorPalette>\n"
        f"{entries}\n"
        "      </colorPalette>\n"
        "    </rasterrenderer>\n"
        "  </pipe>\n"
        "</qgis>\n"
    )


def probabilities_qml(band: int, name: str) -> str:
    """A QGIS style for a probability file: band ``band`` in a 0..1 colour ramp.

    QGIS opens a multiband raster as an RGB composite of bands 1-3 unless a style says
    otherwise; this default style (``<file>.qml``) shows one layer instead.
    """
    ramp = [(0.0, "#d7191c"), (0.25, "#fdae61"), (0.5, "#ffffbf"), (0.75, "#a6d96a")]
    ramp.append((1.0, "#1a9641"))
    items = "\n".join(
        f'          <item value="{v:g}" color="{c}" alpha="255" label="{v:g}"/>' for v, c in ramp
    )
    title = escape(name, {chr(34): "&quot;"})
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="AllStyleCategories">\n'
        "  <pipe>\n"
        f'    <rasterrenderer type="singlebandpseudocolor" band="{band}" opacity="1" '
        f'alphaBand="-1" classificationMin="0" classificationMax="1" nodataColor="">\n'
        "      <rasterTransparency/>\n"
        "      <minMaxOrigin>\n"
        "        <limits>None</limits>\n"
        "        <extent>WholeRaster</extent>\n"
        "        <statAccuracy>Estimated</statAccuracy>\n"
        "        <cumulativeCutLower>0.02</cumulativeCutLower>\n"
        "        <cumulativeCutUpper>0.98</cumulativeCutUpper>\n"
        "        <stdDevFactor>2</stdDevFactor>\n"
        "      </minMaxOrigin>\n"
        "      <rastershader>\n"
        '        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" '
        f'clip="0" minimumValue="0" maximumValue="1" labelPrecision="2">\n'
        f"{items}\n"
        "        </colorrampshader>\n"
        "      </rastershader>\n"
        "    </rasterrenderer>\n"
        "  </pipe>\n"
        f"  <!-- rasterclass: band {band} ({title}) -->\n"
        "</qgis>\n"
    )
