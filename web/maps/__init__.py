"""Map builders: layers (GeoDataFrames in EPSG:4326) in, a ``folium.Map`` out.

Pure: no files, no server, no network. Every script and stylesheet is a local ``/static/``
address (:mod:`web.assets`); :func:`web.assets.inline_assets` turns a rendered map into one
self-contained file.

What a map shows, each a layer the user can switch off: the soum and aimag outlines (the offline
background; the store has no roads or lakes), Land Conclusions coloured by status, contract
parcels by contract status, rehabilitation zones by stage, excluded land and licences by kind,
the overlaps of :func:`geo.rules.analyze` in red and the available land of
:func:`geo.availability.availability` in green, and — where vegetation rasters are registered —
the rehabilitation zones coloured by their recovery (``layers.rasters.rehab_registered``); an
online tile basemap is an optional layer, off by default. Popups list the feature's fields,
its official hectares and the rules it breaks, in Mongolian or English. Controls: layer
switcher, legend, metric scale bar, measurement (line and area), full screen, search by id or
holder.

Large layers stay light: paths are drawn on a canvas (``prefer_canvas``), geometry is
simplified and coordinates are rounded to six decimals (~0.1 m); with :class:`RemoteLoading`
a layer of more than ``inline_limit`` features is not inlined at all: the page loads the
features in view from the API's OGC items endpoint as the user pans.

The package: :mod:`web.maps.styles` (looks), :mod:`web.maps.elements` (GeoJSON, folium parts,
labels, layer specs), :mod:`web.maps.builder` (:func:`build_map`), :mod:`web.maps.views` (maps of
one place) and :mod:`web.maps.review` (a reviewed proposal).
"""

from web.maps.builder import *  # noqa: F403
from web.maps.builder import _bounds_of  # noqa: F401  (read by the tests)
from web.maps.elements import *  # noqa: F403
from web.maps.review import *  # noqa: F403
from web.maps.styles import *  # noqa: F403
from web.maps.views import *  # noqa: F403
