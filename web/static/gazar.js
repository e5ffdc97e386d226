/* Gazar's map code: layers coloured by status, bilingual popups built from the data, a legend,
 * search by id or holder, measurement, a drawn proposal for the check page, and large layers
 * loaded by bounding box from the API (OGC API Features) as the user pans, drawn from the
 * API's vector tiles (OGC API Tiles, with Leaflet.VectorGrid) when zoomed out further.
 * Needs Leaflet; measuring and drawing need Leaflet.draw. Every string a person reads comes
 * from the page (Mongolian or English), none is written here. */
(function (window, document) {
  "use strict";
  var L = window.L;
  var gazar = (window.gazar = window.gazar || {});
  gazar.maps = gazar.maps || [];

  function registry(map) {
    if (!map._gazar) {
      map._gazar = { layers: [], strings: {}, measuring: null, status: null };
      gazar.maps.push(map);
    }
    return map._gazar;
  }

  function el(tag, cls, text, parent) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (parent) parent.appendChild(node);
    return node;
  }

  function isEmpty(v) {
    return v === null || v === undefined || v === "" || (typeof v === "number" && isNaN(v));
  }

  function show(spec, field, props) {
    var v = props[field.key];
    if (field.key === "members") {
      var w = props.members_women, m = props.members_men;
      if (isEmpty(w) && isEmpty(m)) return null;
      return (isEmpty(w) ? "?" : w) + " / " + (isEmpty(m) ? "?" : m);
    }
    if (isEmpty(v)) return null;
    if (field.group && spec.labels[field.group] && spec.labels[field.group][v] !== undefined) {
      return spec.labels[field.group][v];
    }
    if (field.ha && typeof v === "number") return v.toFixed(2);
    if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v)) return v.slice(0, 10);
    return v;
  }

  /* A soum or aimag code as its name (and code), a soum linked to its map page when served. */
  function place(spec, field, props, value, cell) {
    var known = spec.places && spec.places[field.key];
    var code = props[field.key];
    if (!known || isEmpty(code) || known.names[code] === undefined) {
      cell.textContent = value;
      return;
    }
    var text = known.names[code] + " (" + code + ")";
    if (known.href) {
      var a = el("a", null, text, cell);
      a.href = known.href.replace("{code}", encodeURIComponent(code));
    } else {
      cell.textContent = text;
    }
  }

  function popupContent(spec, props) {
    var box = el("div", "gazar-popup");
    var head = isEmpty(props.id) ? spec.title : spec.title + " " + props.id;
    el("div", "gazar-popup-title", head, box);
    var table = el("table", "gazar-popup-table", null, box);
    spec.fields.forEach(function (field) {
      var value = show(spec, field, props);
      if (value === null) return;
      var row = el("tr", null, null, table);
      el("th", null, field.label, row);
      place(spec, field, props, value, el("td", null, null, row));
    });
    if (spec.rulesLabel) {
      var broken = (spec.rules && spec.rules[props.id]) || props.rules || [];
      var row = el("tr", broken.length ? "gazar-broken" : null, null, table);
      el("th", null, spec.rulesLabel, row);
      var cell = el("td", null, null, row);
      if (!broken.length) {
        cell.textContent = spec.noRules;
      } else {
        var list = el("ul", null, null, cell);
        broken.forEach(function (text) { el("li", null, text, list); });
      }
    }
    return box;
  }

  function styleOf(spec, feature) {
    var value = spec.key ? feature.properties[spec.key] : null;
    return L.extend({}, spec.style, (spec.styles && spec.styles[value]) || {});
  }

  /* The zoom from which a feature's name shows (``spec.names``: by the value of its key). */
  function nameZoom(spec, props) {
    var zoom = spec.names.zoom, value = spec.names.key ? props[spec.names.key] : null;
    return zoom[value] !== undefined ? zoom[value] : zoom["*"];
  }

  /* Names of the background layers (settlements, lakes, roads): permanent labels shown from
   * each feature's zoom on, hidden below it and while the layer is off. */
  function names(map, layer, spec) {
    var named = [];
    layer.gazarNamed = named;
    function refresh() {
      var z = map.getZoom(), on = map.hasLayer(layer);
      named.forEach(function (item) {
        var want = on && z >= item.zoom;
        if (want && !item.path.isTooltipOpen()) item.path.openTooltip();
        else if (!want && item.path.isTooltipOpen()) item.path.closeTooltip();
      });
    }
    layer.gazarNameRefresh = refresh;
    map.on("zoomend", refresh);
    return function (feature, path) {
      var text = feature.properties.label;
      if (isEmpty(text)) return;
      var point = feature.geometry && feature.geometry.type === "Point";
      path.bindTooltip(String(text), {
        permanent: true, interactive: false, opacity: 0.95,
        direction: point ? "right" : "center", offset: point ? [6, 0] : [0, 0],
        className: "gazar-name gazar-name-" + spec.layer
      });
      var item = { path: path, zoom: nameZoom(spec, feature.properties) };
      named.push(item);
      // Leaflet opens a permanent label whenever its feature is added (the layer switched on,
      // a link's layers restored): closed again at once below the feature's zoom
      path.on("add", function () {
        if (map.getZoom() < item.zoom) path.closeTooltip();
      });
    };
  }

  /* One layer: ``spec`` says how to style, label and (for large layers) load it; ``data`` is
   * an inline FeatureCollection or null when the features come from ``spec.remote``. Points
   * are circle markers (the style's ``radius``); ``spec.names`` labels features by name. */
  gazar.layer = function (map, spec, data) {
    var reg = registry(map);
    var layer;
    var nameOf = null;
    layer = L.geoJSON(null, {
      style: function (feature) { return styleOf(spec, feature); },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, styleOf(spec, feature));
      },
      interactive: spec.interactive !== false,
      onEachFeature: function (feature, path) {
        if (nameOf) nameOf(feature, path);
        if (spec.interactive === false) return;
        path.bindPopup(function () { return popupContent(spec, feature.properties); },
          { maxWidth: 380 });
        // the open feature is part of the view a copied link restores (see share)
        path.on("popupopen", function () {
          reg.selected = spec.layer + ":" + feature.properties.id;
          if (reg.writeHash) reg.writeHash();
        });
        path.on("popupclose", function () {
          if (reg.selected === spec.layer + ":" + feature.properties.id) reg.selected = null;
          if (reg.writeHash) reg.writeHash();
        });
      }
    });
    layer.gazarSpec = spec;
    if (spec.names) nameOf = names(map, layer, spec);
    if (data) layer.addData(data);
    if (spec.names) layer.gazarNameRefresh();
    reg.layers.push(layer);
    if (spec.remote) bboxLoader(map, layer, spec);
    return layer;
  };

  function setStatus(map, layer, text) {
    var reg = registry(map);
    layer.gazarStatus = text;
    if (!reg.status) return;
    var lines = [];
    reg.layers.forEach(function (l) {
      if (l.gazarStatus && map.hasLayer(l)) lines.push(l.gazarSpec.title + ": " + l.gazarStatus);
    });
    reg.status.textContent = lines.join(" · ");
    reg.status.style.display = lines.length ? "" : "none";
  }

  /* The style of a feature of a vector tile: the layer's own, filled as the feature layer is;
   * a tile's aggregate of polygons too small to see (``aggregated``) is filled solid with the
   * value's colour, without an outline that would blur the pixels it covers. */
  function tileStyle(spec, props) {
    var s = styleOf(spec, { properties: props });
    s.fill = s.fill !== false && s.fillOpacity !== 0;
    if (props.aggregated) {
      s.fill = true;
      s.fillColor = s.fillColor || s.color;
      s.fillOpacity = Math.max(s.fillOpacity || 0, 0.85);
      s.stroke = false;
    }
    return s;
  }

  /* Below ``minZoom`` a large layer is drawn from its collection's vector tiles (no popups:
   * those come with the features from ``minZoom``). Made on first use; needs VectorGrid. */
  function tiles(map, layer, spec, on) {
    var remote = spec.remote;
    if (!remote.tiles || !L.vectorGrid) return false;
    if (!on) {
      if (layer.gazarTiles && map.hasLayer(layer.gazarTiles)) map.removeLayer(layer.gazarTiles);
      return true;
    }
    if (!layer.gazarTiles) {
      var styles = {};
      styles[remote.tilesLayer] = function (props) { return tileStyle(spec, props); };
      layer.gazarTiles = L.vectorGrid.protobuf(remote.tiles, {
        rendererFactory: L.canvas.tile,
        vectorTileLayerStyles: styles,
        interactive: false,
        zIndex: registry(map).layers.indexOf(layer) + 1,
        fetchOptions: { credentials: "same-origin" }
      });
      layer.gazarTiles.gazarLayer = spec.layer;
    }
    if (!map.hasLayer(layer.gazarTiles)) map.addLayer(layer.gazarTiles);
    return true;
  }

  /* Large layers: fetch the features in view (padded) from the OGC items endpoint whenever the
   * map stops moving, above ``minZoom`` only (below it, the vector tiles). Stale answers are
   * dropped, not aborted. */
  function bboxLoader(map, layer, spec) {
    var remote = spec.remote, s = remote.strings, timer = null, seq = 0, lastKey = null;
    layer.gazarLoads = 0;
    function load() {
      if (!map.hasLayer(layer)) return;
      if (map.getZoom() < remote.minZoom) {
        layer.clearLayers();
        lastKey = null;
        // drawn from tiles: say why a click opens nothing (the popups come from minZoom)
        setStatus(map, layer, tiles(map, layer, spec, true) ? s.details : s.zoomIn);
        return;
      }
      tiles(map, layer, spec, false);
      var b = map.getBounds().pad(0.2);
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (x) { return x.toFixed(5); }).join(",");
      if (bbox === lastKey) return;
      var mine = ++seq;
      setStatus(map, layer, s.loading);
      var sep = remote.url.indexOf("?") < 0 ? "?" : "&";
      window.fetch(remote.url + sep + "bbox=" + bbox + "&limit=" + remote.limit,
        { headers: { Accept: "application/geo+json, application/json" } })
        .then(function (resp) {
          if (!resp.ok) throw new Error(String(resp.status));
          return resp.json();
        })
        .then(function (fc) {
          if (mine !== seq) return;
          layer.clearLayers();
          layer.addData(fc);
          lastKey = bbox;
          layer.gazarLoads += 1;
          var n = (fc.features || []).length;
          var more = typeof fc.numberMatched === "number" ? fc.numberMatched > n : n >= remote.limit;
          setStatus(map, layer, more ? s.capped.replace("{n}", n) : null);
          if (layer._gazarOpen) openById(map, layer, layer._gazarOpen);
        })
        .catch(function () { if (mine === seq) setStatus(map, layer, s.failed); });
    }
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(load, 200);
    }
    map.on("moveend", later);
    layer.on("add", later);
    layer.on("remove", function () {
      tiles(map, layer, spec, false);
      setStatus(map, layer, null);
    });
  }

  /* Opens the popup of feature ``id``; ``keepView`` (a link's restored view) keeps the map
   * where the link put it instead of panning the popup into view. */
  function openById(map, layer, id, keepView) {
    keepView = keepView || layer._gazarKeepView;
    layer._gazarOpen = null;
    layer._gazarKeepView = false;
    layer.eachLayer(function (path) {
      if (!path.feature || String(path.feature.properties.id) !== String(id)) return;
      var popup = path.getPopup(), pan = popup && popup.options.autoPan;
      if (popup && keepView) popup.options.autoPan = false;
      path.openPopup();
      if (popup && keepView) popup.options.autoPan = pan;
    });
  }

  gazar.readHash = readHash;

  /* What the map draws now: the features' paths on the map (polygons, lines and point
   * markers), per layer, and how many the canvas draws. */
  gazar.drawn = function (map) {
    map = map || gazar.maps[0];
    var out = { total: 0, canvas: 0, layers: {} };
    Object.keys(map._layers).forEach(function (k) {
      var l = map._layers[k];
      if (l instanceof L.Path) {
        out.total += 1;
        if (l._renderer instanceof L.Canvas) out.canvas += 1;
      }
    });
    registry(map).layers.forEach(function (layer) {
      out.layers[layer.gazarSpec.layer] = map.hasLayer(layer) ? layer.getLayers().length : 0;
    });
    return out;
  };

  function control(position, build) {
    var Ctl = L.Control.extend({ options: { position: position }, onAdd: build });
    return new Ctl();
  }

  function legend(map, spec) {
    control("bottomright", function () {
      var box = L.DomUtil.create("details", "gazar-legend leaflet-bar");
      box.open = spec.open !== false;
      el("summary", null, spec.title, box);
      spec.sections.forEach(function (section) {
        el("div", "gazar-legend-title", section.title, box);
        section.items.forEach(function (item) {
          var row = el("div", "gazar-legend-item", null, box);
          var sw = el("span", "gazar-swatch", null, row);
          sw.style.background = item.style.fillOpacity === 0 ? "transparent" : item.style.fillColor;
          sw.style.borderColor = item.style.color;
          if (item.style.dashArray) sw.style.borderStyle = "dashed";
          if (item.style.radius) sw.className += " gazar-swatch-point";  // a marker
          if (item.shape === "line") sw.className += " gazar-swatch-line";
          el("span", null, item.label, row);
        });
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }).addTo(map);
  }

  function search(map, s) {
    var reg = registry(map);
    function find(text) {
      var q = String(text || "").trim().toLowerCase();
      var exact = [], partial = [];
      if (!q) return [];
      reg.layers.forEach(function (layer) {
        var keys = layer.gazarSpec.search || [];
        if (!keys.length) return;
        layer.eachLayer(function (path) {
          var p = path.feature.properties;
          var hit = false, same = false;
          keys.forEach(function (k) {
            var v = p[k];
            if (isEmpty(v)) return;
            v = String(v).toLowerCase();
            if (v === q) same = true;
            if (v.indexOf(q) >= 0) hit = true;
          });
          if (hit) (same ? exact : partial).push({ layer: layer, path: path });
        });
      });
      return exact.concat(partial).slice(0, 12);
    }
    function go(hit) {
      if (!map.hasLayer(hit.layer)) map.addLayer(hit.layer);
      if (hit.path.getBounds) {
        map.fitBounds(hit.path.getBounds(), { maxZoom: 15, padding: [40, 40] });
      } else {  // a point (a settlement): its neighbourhood
        map.setView(hit.path.getLatLng(), Math.max(map.getZoom(), 12));
      }
      hit.path.openPopup();
    }
    function remoteLookup(q, list) {
      var pending = reg.layers.filter(function (l) { return l.gazarSpec.remote; });
      var found = false;
      if (!pending.length) { el("li", "gazar-none", s.none, list); return; }
      var left = pending.length;
      pending.forEach(function (layer) {
        var r = layer.gazarSpec.remote;
        window.fetch(r.url + "/" + encodeURIComponent(q), { headers: { Accept: "application/geo+json" } })
          .then(function (resp) { return resp.ok ? resp.json() : null; })
          .then(function (feature) {
            if (!feature || found) return;
            found = true;
            if (!map.hasLayer(layer)) map.addLayer(layer);
            layer._gazarOpen = feature.id || (feature.properties || {}).id || q;
            map.fitBounds(L.geoJSON(feature).getBounds(), { maxZoom: Math.max(15, r.minZoom) });
          })
          .catch(function () { return null; })
          .then(function () {
            left -= 1;
            if (!left && !found) el("li", "gazar-none", s.none, list);
          });
      });
    }
    control("topleft", function () {
      var box = L.DomUtil.create("div", "gazar-search leaflet-bar");
      var input = el("input", null, null, box);
      input.type = "search";
      input.placeholder = s.placeholder;
      input.setAttribute("aria-label", s.placeholder);
      var list = el("ul", "gazar-search-results", null, box);
      function render(hits) {
        list.textContent = "";
        hits.forEach(function (hit) {
          var p = hit.path.feature.properties;
          var label = [p.id, p.holder || p.name].filter(function (v) { return !isEmpty(v); });
          var item = el("li", null, hit.layer.gazarSpec.title + ": " + label.join(" — "), list);
          item.addEventListener("click", function () { go(hit); });
        });
      }
      input.addEventListener("input", function () { render(find(input.value)); });
      input.addEventListener("keydown", function (e) {
        if (e.key !== "Enter") return;
        e.preventDefault();
        var hits = find(input.value);
        render(hits);
        if (hits.length) go(hits[0]);
        else if (input.value.trim()) remoteLookup(input.value.trim(), list);
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }).addTo(map);
  }

  function formatLength(m, s) {
    return m >= 1000 ? (m / 1000).toFixed(2) + " " + s.km : Math.round(m) + " " + s.m;
  }

  function lengthOf(latlngs, closed) {
    var total = 0;
    for (var i = 1; i < latlngs.length; i++) total += latlngs[i - 1].distanceTo(latlngs[i]);
    if (closed && latlngs.length > 2) total += latlngs[latlngs.length - 1].distanceTo(latlngs[0]);
    return total;
  }

  /* Measurement with Leaflet.draw's line and polygon tools; results stay as popups. */
  function measure(map, s) {
    if (!L.Draw) return;
    var reg = registry(map);
    var group = L.featureGroup().addTo(map);
    var shape = { color: "#ff7800", weight: 3, fillOpacity: 0.1 };
    var tools = {
      line: new L.Draw.Polyline(map, { shapeOptions: shape, metric: true, feet: false, showLength: true }),
      area: new L.Draw.Polygon(map, { shapeOptions: shape, metric: ["ha", "m"], showArea: true, showLength: true })
    };
    map.on(L.Draw.Event.CREATED, function (e) {
      if (!reg.measuring) return;
      var latlngs = e.layer.getLatLngs();
      var text;
      if (reg.measuring === "area") {
        var ring = latlngs[0];
        var ha = L.GeometryUtil.geodesicArea(ring) / 10000;
        text = s.area + ": " + ha.toFixed(2) + " " + s.ha + " · " + s.perimeter + ": " +
          formatLength(lengthOf(ring, true), s);
      } else {
        text = s.length + ": " + formatLength(lengthOf(latlngs, false), s);
      }
      e.layer.gazarMeasure = text;
      group.addLayer(e.layer);
      e.layer.bindPopup(el("div", "gazar-measure-result", text)).openPopup();
    });
    map.on(L.Draw.Event.DRAWSTOP, function () { reg.measuring = null; });
    control("topleft", function () {
      var box = L.DomUtil.create("div", "gazar-measure leaflet-bar");
      [["line", "↔", s.line], ["area", "▱", s.areaTool], ["clear", "✕", s.clear]].forEach(function (b) {
        var a = el("a", "gazar-measure-" + b[0], b[1], box);
        a.href = "#";
        a.title = b[2];
        a.setAttribute("role", "button");
        a.setAttribute("aria-label", b[2]);
        L.DomEvent.on(a, "click", function (ev) {
          L.DomEvent.preventDefault(ev);
          L.DomEvent.stopPropagation(ev);
          if (reg.measuring) tools[reg.measuring].disable();
          if (b[0] === "clear") { group.clearLayers(); return; }
          reg.measuring = b[0];
          tools[b[0]].enable();
        });
      });
      return box;
    }).addTo(map);
  }

  /* The check page: a polygon drawn on the map goes into a form field as GeoJSON. */
  function drawProposal(map, opts) {
    if (!L.Control.Draw) return;
    var reg = registry(map);
    var drawn = L.featureGroup().addTo(map);
    var field = document.getElementById(opts.field);
    new L.Control.Draw({
      position: "topleft",
      draw: { polygon: { showArea: true, metric: ["ha", "m"], allowIntersection: false },
        rectangle: false, polyline: false, circle: false, marker: false, circlemarker: false },
      edit: { featureGroup: drawn }
    }).addTo(map);
    function sync() {
      if (!field) return;
      var fc = drawn.toGeoJSON();
      field.value = fc.features.length ? JSON.stringify(fc) : "";
      field.dispatchEvent(new Event("change"));
    }
    map.on(L.Draw.Event.CREATED, function (e) {
      if (reg.measuring) return;
      drawn.addLayer(e.layer);
      sync();
    });
    map.on(L.Draw.Event.EDITED, sync);
    map.on(L.Draw.Event.DELETED, sync);
    gazar.drawnProposal = drawn;
  }

  function merge(target, source) {
    Object.keys(source).forEach(function (k) {
      if (source[k] && typeof source[k] === "object" && !Array.isArray(source[k]) && target[k]) {
        merge(target[k], source[k]);
      } else {
        target[k] = source[k];
      }
    });
  }

  /* The controls of one map, after its layers: scale, legend, search, measurement, status. */
  gazar.setup = function (map, opts) {
    var reg = registry(map);
    reg.strings = opts.strings || {};
    reg.layers.forEach(function (l) { l.gazarSpec.places = opts.places || {}; });
    if (opts.drawLocal && L.drawLocal) merge(L.drawLocal, opts.drawLocal);
    L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
    if (opts.title) {
      control("topright", function () { return el("div", "gazar-title leaflet-bar", opts.title); })
        .addTo(map);
    }
    if (opts.search) search(map, opts.search);
    if (opts.measure) measure(map, opts.measure);
    if (opts.draw) drawProposal(map, opts.draw);
    if (opts.legend) legend(map, opts.legend);
    control("bottomleft", function () {
      reg.status = el("div", "gazar-status leaflet-bar");
      reg.status.style.display = "none";
      return reg.status;
    }).addTo(map);
    if (opts.note) {
      map.attributionControl.addAttribution(opts.note);
    }
    if (opts.narrow) narrow(map, opts.narrow);
    if (opts.share) share(map);
    if (opts.print) printView(map, opts.print);
    // focus moving by keyboard to a control at the edge must not scroll the map's box (the
    // panes would slide under the controls)
    var container = map.getContainer();
    container.addEventListener("scroll", function () {
      container.scrollTop = 0;
      container.scrollLeft = 0;
    });
  };

  /* The view in the page's address, so that a copied link opens the same view:
   * #map=ZOOM/LAT/LON&layers=a,b&sel=layer:id (the layers switched on, the feature whose popup
   * is open). Read once the page's map code has run (the view fitted, the layer list made);
   * parts that do not parse or name no layer of this map are ignored. Kept up to date with
   * history.replaceState, so panning adds no history entries. The values only ever reach
   * setView, addLayer/removeLayer and an id comparison, never the page. */
  function readHash() {
    var out = {};
    String(window.location.hash || "").replace(/^#/, "").split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i < 1) return;
      try {
        out[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1));
      } catch (e) { /* a broken escape: the part is ignored */ }
    });
    return out;
  }

  function share(map) {
    var reg = registry(map);
    var ready = false, timer = null;
    function named(l) { return l.gazarSpec && l.gazarSpec.layer; }
    function write() {
      if (!ready) return;
      var c = map.getCenter();
      var parts = ["map=" + map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5)];
      var on = reg.layers.filter(function (l) { return named(l) && map.hasLayer(l); });
      parts.push("layers=" + on.map(function (l) { return encodeURIComponent(named(l)); }).join(","));
      if (reg.selected) parts.push("sel=" + encodeURIComponent(reg.selected));
      var hash = "#" + parts.join("&");
      if (window.location.hash !== hash) window.history.replaceState(window.history.state, "", hash);
    }
    reg.writeHash = function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(write, 150);
    };
    function restore() {
      var h = readHash();
      var v = /^(\d{1,2})\/(-?\d{1,2}(?:\.\d+)?)\/(-?\d{1,3}(?:\.\d+)?)$/.exec(h.map || "");
      if (v) {
        var z = Number(v[1]), lat = Number(v[2]), lng = Number(v[3]);
        if (z <= map.getMaxZoom() && Math.abs(lat) <= 85 && Math.abs(lng) <= 180) {
          map.setView([lat, lng], Math.max(z, map.getMinZoom()), { animate: false });
        }
      }
      if (typeof h.layers === "string") {
        var names = reg.layers.map(named);
        var wanted = h.layers.split(",").filter(function (n) { return names.indexOf(n) >= 0; });
        // a list naming no layer of this map (another page's, or garbage) is not a choice
        if (h.layers && !wanted.length) wanted = null;
        if (wanted) reg.layers.forEach(function (l) {
          if (!named(l)) return;
          var on = wanted.indexOf(named(l)) >= 0;
          if (on && !map.hasLayer(l)) map.addLayer(l);
          if (!on && map.hasLayer(l)) map.removeLayer(l);
        });
      }
      var sel = /^([a-z_]+):(.+)$/.exec(h.sel || "");
      if (sel) {
        reg.layers.forEach(function (l) {
          if (named(l) !== sel[1] || !map.hasLayer(l)) return;
          reg.selected = sel[1] + ":" + sel[2];
          openById(map, l, sel[2], true);
          // a layer loaded by bbox opens it when its features arrive
          if (l.gazarSpec.remote) {
            l._gazarOpen = sel[2];
            l._gazarKeepView = true;
          }
        });
      }
      ready = true;
      write();
    }
    map.on("moveend overlayadd overlayremove", reg.writeHash);
    window.setTimeout(restore, 0);
  }

  /* The print view: paper (A4/A3) and orientation chosen, the map is sized to the page's
   * printable area (10 mm margins, a heading of title and date above), the legend opened
   * beside a north arrow and the scale bar, the other controls hidden (gazar.css, @media
   * print), then the browser's print dialog; everything is put back after printing. */
  var PAPER = { A4: [210, 297], A3: [297, 420] };

  gazar.printLayout = function (map, paper, orientation, s) {
    var size = PAPER[paper] || PAPER.A4;
    var wide = orientation === "landscape";
    var w = (wide ? size[1] : size[0]) - 20, h = (wide ? size[0] : size[1]) - 20;
    var box = map.getContainer(), centre = map.getCenter(), zoom = map.getZoom();
    var style = document.getElementById("gazar-page-size");
    if (!style) {
      // the page's Content Security Policy admits a style element with the page's nonce
      style = document.createElement("style");
      var signed = document.querySelector("script[nonce], style[nonce]");
      if (signed && signed.nonce) style.setAttribute("nonce", signed.nonce);
      style.id = "gazar-page-size";
      document.head.appendChild(style);
    }
    style.textContent = "@page { size: " + paper + " " + orientation + "; margin: 10mm; }";
    var head = document.querySelector(".gazar-print-head");
    if (!head) {
      head = el("div", "gazar-print-head");
      box.parentNode.insertBefore(head, box);
    }
    head.textContent = "";
    el("div", "gazar-print-title", s.title, head);
    var now = new Date();
    var day = now.getFullYear() + "-" + String(now.getMonth() + 1).padStart(2, "0") + "-" +
      String(now.getDate()).padStart(2, "0");
    el("div", "gazar-print-date", s.date + ": " + day, head);
    var saved = { width: box.style.width, height: box.style.height };
    box.style.width = w + "mm";
    box.style.height = (h - 30) + "mm";  // 30 mm for the heading (two lines of title)
    document.documentElement.classList.add("gazar-printing");
    var legendBox = box.querySelector(".gazar-legend");
    var legendOpen = legendBox ? legendBox.open : null;
    if (legendBox) legendBox.open = true;
    map.invalidateSize({ animate: false });
    map.setView(centre, zoom, { animate: false });
    return function restore() {
      box.style.width = saved.width;
      box.style.height = saved.height;
      document.documentElement.classList.remove("gazar-printing");
      if (legendBox) legendBox.open = legendOpen;
      map.invalidateSize({ animate: false });
      map.setView(centre, zoom, { animate: false });
    };
  };

  function printView(map, s) {
    control("bottomleft", function () {
      var arrow = el("div", "gazar-north leaflet-bar");
      arrow.setAttribute("aria-hidden", "true");
      el("span", "gazar-north-arrow", "\u25B2", arrow);
      el("span", null, s.north, arrow);
      return arrow;
    }).addTo(map);
    control("topleft", function () {
      var box = L.DomUtil.create("details", "gazar-print leaflet-bar");
      el("summary", null, s.map, box);
      var form = el("div", "gazar-print-form", null, box);
      function choice(label, name, values) {
        var lab = el("label", null, label, form);
        var select = el("select", null, null, lab);
        select.name = name;
        values.forEach(function (v) {
          var o = el("option", null, v[1], select);
          o.value = v[0];
        });
        return select;
      }
      var paper = choice(s.paper, "paper", [["A4", "A4"], ["A3", "A3"]]);
      var turn = choice(s.orientation, "orientation",
        [["landscape", s.landscape], ["portrait", s.portrait]]);
      var go = el("button", null, s.go, form);
      go.type = "button";
      go.addEventListener("click", function () {
        box.open = false;
        var restore = gazar.printLayout(map, paper.value, turn.value, s);
        window.addEventListener("afterprint", function once() {
          window.removeEventListener("afterprint", once);
          restore();
        });
        window.setTimeout(function () { window.print(); }, 300);  // tiles of the new size
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    }).addTo(map);
  }

  /* A phone: the layer list hides behind a labelled button, the legend starts folded, the
   * title (the page's heading already says it) is left out, so that the map's middle, where
   * the user draws and taps, stays free. Runs after the page's other map code (folium adds
   * the layer control after this setup). Pinch-zoom is never disabled. */
  function narrow(map, s) {
    var query = window.matchMedia ? window.matchMedia("(max-width: " + s.maxWidth + "px)") : null;
    if (!query || !query.matches) return;
    var box = map.getContainer();
    box.classList.add("gazar-narrow");
    window.setTimeout(function () {
      var legendBox = box.querySelector(".gazar-legend");
      if (legendBox) legendBox.open = false;
      var layers = box.querySelector(".leaflet-control-layers");
      if (!layers || box.querySelector(".gazar-layers-toggle")) return;
      if (!layers.id) layers.id = "gazar-layers-" + L.stamp(map);
      layers.classList.add("gazar-collapsed");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "gazar-layers-toggle leaflet-bar leaflet-control";
      button.textContent = s.layers;
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", layers.id);
      button.addEventListener("click", function (ev) {
        L.DomEvent.stopPropagation(ev);
        var open = layers.classList.toggle("gazar-collapsed") === false;
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
      L.DomEvent.disableClickPropagation(button);
      layers.parentNode.insertBefore(button, layers);
    }, 0);
  }
})(window, document);
