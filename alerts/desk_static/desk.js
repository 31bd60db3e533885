/* skyfence desk: the live page. Read-only; everything comes from this worker:
   /desk/api/state once (and again after a reconnect), then Server-Sent Events. */
(function () {
  "use strict";
  var COLORS = { inside: "#b00020", approaching: "#8a4b00", lost: "#3d3d8f" };
  var STATUS_OF = { entered: "inside", first_seen_inside: "inside", signal_regained: "inside",
                    approaching: "approaching", signal_lost: "lost" };
  var MAX_ROWS = 500;
  var aircraft = {};   // icao24 -> view
  var layers = {};     // icao24 -> {marker, track}
  var events = [];     // newest first
  var countries = {};
  var watchlists = {};
  var zones = {};
  var selected = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function alt(ft) { return ft === null || ft === undefined ? "alt. unknown" : ft.toLocaleString("en") + " ft"; }
  function label(a) { return (a.callsign || a.icao24) + (a.callsign ? " (" + a.icao24 + ")" : ""); }
  function flag(country) {
    var span = el("span", "flag");
    if (!country) { span.textContent = "unknown"; return span; }
    var f = el("span", null, country.flag + " ");
    f.setAttribute("aria-hidden", "true");
    span.appendChild(f);
    var code = el("abbr", null, country.code);
    code.title = country.name;
    span.appendChild(code);
    span.setAttribute("aria-label", country.name);
    return span;
  }

  var map = L.map("map", { zoomControl: true, attributionControl: false, worldCopyJump: true,
                           keyboard: true }).setView([39, 127], 5);
  // No tiles: a graticule for orientation, then the zone outlines.
  for (var lat = -80; lat <= 80; lat += 5) { L.polyline([[lat, -180], [lat, 180]], { color: "#9bb", weight: 0.5, interactive: false }).addTo(map); }
  for (var lon = -180; lon <= 180; lon += 5) { L.polyline([[-85, lon], [85, lon]], { color: "#9bb", weight: 0.5, interactive: false }).addTo(map); }
  // Country/region outlines: the packaged time-zone outlines around the zones, under them.
  var outlineLayer = L.geoJSON(null, {
    interactive: false,
    style: function () { return { color: "#5f6b6b", weight: 1, fill: false, className: "region-outline" }; }
  }).addTo(map);
  var zoneLayer = L.geoJSON(null, {
    style: function () { return { color: "#1a5e1a", weight: 2, fillColor: "#1a5e1a", fillOpacity: 0.06, className: "zone-outline" }; },
    onEachFeature: function (f, layer) { layer.bindTooltip(f.properties.name + " (" + f.properties.id + ")"); }
  }).addTo(map);

  function drawAircraft(a) {
    var old = layers[a.icao24];
    if (old) { map.removeLayer(old.marker); map.removeLayer(old.track); }
    var color = COLORS[a.status] || "#333";
    var track = L.polyline(a.track && a.track.length ? a.track : [[a.lat, a.lon]], {
      color: color, weight: 2, opacity: 0.8, dashArray: a.status === "lost" ? "4 4" : null,
      className: "ac-track ac-track-" + a.icao24, interactive: false }).addTo(map);
    var marker = L.circleMarker([a.lat, a.lon], { radius: 7, color: "#fff", weight: 2, fillColor: color,
      fillOpacity: 1, className: "ac-marker ac-" + a.icao24 + " status-" + a.status }).addTo(map);
    marker.bindTooltip((a.country ? a.country.flag + " " : "") + label(a) + " · " + alt(a.alt_ft) + " · " + a.status + " " + (a.zones || []).join(", "));
    marker.on("click", function () { showTimeline(a.icao24); });
    layers[a.icao24] = { marker: marker, track: track };
  }
  function removeAircraft(icao) {
    var old = layers[icao];
    if (old) { map.removeLayer(old.marker); map.removeLayer(old.track); delete layers[icao]; }
    delete aircraft[icao];
  }

  function renderLists() {
    ["inside", "approaching", "lost"].forEach(function (status) {
      var ul = $("list-" + status);
      ul.textContent = "";
      var n = 0;
      Object.keys(aircraft).sort().forEach(function (icao) {
        var a = aircraft[icao];
        if (a.status !== status) { return; }
        n += 1;
        var li = el("li");
        li.dataset.icao = icao; li.dataset.status = status;
        var b = el("button", "ac " + status);
        b.type = "button";
        b.appendChild(flag(a.country));
        b.appendChild(document.createTextNode(" " + label(a) + " · " + alt(a.alt_ft) + " · " + (a.zones || []).join(", ") + (a.eta ? " · ETA " + a.eta.slice(11, 16) + "Z" : "")));
        b.setAttribute("aria-describedby", "timeline-title");
        b.addEventListener("click", function () { showTimeline(icao); map.panTo([a.lat, a.lon]); });
        li.appendChild(b);
        ul.appendChild(li);
      });
      $("n-" + status).textContent = String(n);
    });
  }

  function setAircraft(list) {
    var seen = {};
    list.forEach(function (a) { seen[a.icao24] = true; aircraft[a.icao24] = a; drawAircraft(a); });
    Object.keys(layers).forEach(function (icao) { if (!seen[icao]) { removeAircraft(icao); } });
    renderLists();
  }

  function aircraftFromEvent(e) {
    var status = STATUS_OF[e.type];
    if (e.type === "signal_regained" && e.verdict === "withdrawn") { status = null; }
    if (!status) { if (e.type === "exited") { removeAircraft(e.icao24); renderLists(); } return; }
    var prev = aircraft[e.icao24] || {};
    var track = (e.track && e.track.length ? e.track : (prev.track || [])).slice();
    track.push([e.lat, e.lon]);
    var a = { icao24: e.icao24, callsign: e.callsign || prev.callsign, status: status, zones: [e.zone],
              lat: e.lat, lon: e.lon, alt_ft: e.alt_ft !== null ? e.alt_ft : prev.alt_ft,
              country: e.country, track: track, eta: e.eta };
    aircraft[e.icao24] = a;
    drawAircraft(a);
    renderLists();
  }

  function addCountry(c) {
    if (!c || countries[c.code]) { return; }
    countries[c.code] = c;
    var sel = $("f-country");
    var opt = el("option", null, c.flag + " " + c.code + " " + c.name);
    opt.value = c.code;
    sel.appendChild(opt);
  }
  function listsOf(e) { return (e.watchlists || []).map(function (m) { return m.list; }); }
  function addWatchlists(e) {
    listsOf(e).forEach(function (name) {
      if (watchlists[name]) { return; }
      watchlists[name] = true;
      var opt = el("option", null, name); opt.value = name;
      $("f-watchlist").appendChild(opt);
    });
  }
  function matches(e) {
    var z = $("f-zone").value, t = $("f-type").value, c = $("f-country").value, w = $("f-watchlist").value;
    var lists = listsOf(e);
    return (!z || e.zone === z) && (!t || e.type === t) && (!c || (e.country && e.country.code === c)) &&
      (!w || (w === "*" ? lists.length > 0 : lists.indexOf(w) >= 0));
  }
  function row(e, fresh) {
    var tr = el("tr", fresh ? "new" : null);
    tr.dataset.type = e.type; tr.dataset.icao = e.icao24; tr.dataset.zone = e.zone; tr.dataset.ts = String(e.ts);
    tr.appendChild(el("td", null, e.time ? e.time.replace("T", " ").replace("Z", "") : ""));
    tr.appendChild(el("td", "type-" + e.type, e.type.replace(/_/g, " ")));
    var td = el("td"); var b = el("button", null, label(e)); b.type = "button";
    b.addEventListener("click", function () { showTimeline(e.icao24); });
    td.appendChild(b);
    var lists = listsOf(e);
    if (lists.length) { td.appendChild(el("span", "watch", " on watchlist: " + lists.join(", "))); }
    tr.appendChild(td);
    var tc = el("td"); tc.appendChild(flag(e.country)); tr.appendChild(tc);
    tr.appendChild(el("td", null, e.zone_name));
    tr.appendChild(el("td", null, alt(e.alt_ft)));
    return tr;
  }
  function renderHistory() {
    var body = document.querySelector("#history tbody");
    body.textContent = "";
    var shown = 0;
    for (var i = 0; i < events.length && shown < MAX_ROWS; i++) {
      if (matches(events[i])) { body.appendChild(row(events[i], false)); shown += 1; }
    }
    $("history-empty").hidden = shown > 0;
  }
  function addEvent(e) {
    // Newest event time first: partitions deliver in parallel, so arrivals interleave.
    var i = 0;
    while (i < events.length && events[i].ts > e.ts) { i += 1; }
    events.splice(i, 0, e);
    if (events.length > 2000) { events.pop(); }
    addCountry(e.country);
    addWatchlists(e);
    if (matches(e)) {
      var body = document.querySelector("#history tbody");
      var before = null;
      for (var j = 0; j < body.children.length; j++) {
        if (Number(body.children[j].dataset.ts) <= e.ts) { before = body.children[j]; break; }
      }
      body.insertBefore(row(e, true), before);
      while (body.children.length > MAX_ROWS) { body.removeChild(body.lastChild); }
      $("history-empty").hidden = true;
    }
    if (selected === e.icao24) { showTimeline(e.icao24); }
  }

  function showTimeline(icao) {
    selected = icao;
    fetch("/desk/api/aircraft/" + encodeURIComponent(icao), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var a = aircraft[icao];
        $("timeline-title").textContent = "Visit timeline: " + (a ? label(a) : icao);
        var ol = $("timeline");
        ol.textContent = "";
        if (!data.timeline.length) { ol.appendChild(el("li", null, "No events kept for this aircraft.")); }
        data.timeline.forEach(function (e) {
          ol.appendChild(el("li", "type-" + e.type, e.time.replace("T", " ") + " — " + e.type.replace(/_/g, " ") + " " + e.zone_name + " (" + alt(e.alt_ft) + ", " + e.confidence + ")"));
        });
        var section = $("timeline-section");
        section.hidden = false;
      });
  }
  $("timeline-close").addEventListener("click", function () { $("timeline-section").hidden = true; selected = null; });
  ["f-zone", "f-type", "f-country", "f-watchlist"].forEach(function (id) { $(id).addEventListener("change", renderHistory); });

  function loadState() {
    return fetch("/desk/api/state", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (state) {
        zoneLayer.clearLayers();
        zoneLayer.addData(state.zones);
        var sel = $("f-zone");
        state.zones.features.forEach(function (f) {
          if (zones[f.properties.id]) { return; }
          zones[f.properties.id] = true;
          var o = el("option", null, f.properties.name + " (" + f.properties.id + ")"); o.value = f.properties.id; sel.appendChild(o);
        });
        // Each zone's attribution (the built-in outlines' licences ask for it), once each.
        var credits = [];
        state.zones.features.forEach(function (f) {
          var c = f.properties.attribution;
          if (c && credits.indexOf(c) < 0) { credits.push(c); }
        });
        $("zone-credit").textContent = credits.length ? " Zone outlines: " + credits.join("; ") + "." : "";
        if (state.zones.features.length && !loadState.fitted) { map.fitBounds(zoneLayer.getBounds().pad(0.6)); loadState.fitted = true; }
        events = state.events.slice();
        events.forEach(function (e) { addCountry(e.country); addWatchlists(e); });
        renderHistory();
        setAircraft(state.aircraft);
        setScope(state.partitions);
      });
  }

  function setScope(partitions) {
    $("scope").textContent = partitions.length
      ? "aircraft of positions partition(s) " + partitions.join(", ") + " (this worker's)"
      : "this worker holds no tracker partitions yet";
  }

  // A phone turned, a window resized: Leaflet must measure its box again.
  window.addEventListener("resize", function () { map.invalidateSize(); });

  var source = null;
  function connect() {
    source = new EventSource("/desk/api/stream");
    source.addEventListener("open", function () { $("conn").textContent = "live"; loadState(); });
    source.addEventListener("error", function () { $("conn").textContent = "reconnecting…"; });
    source.addEventListener("event", function (m) { var e = JSON.parse(m.data); addEvent(e); aircraftFromEvent(e); });
    source.addEventListener("aircraft", function (m) { var d = JSON.parse(m.data); setAircraft(d.aircraft); setScope(d.partitions); });
  }
  function loadOutlines() {
    fetch("/desk/api/outlines", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (g) {
        if (!g) { return; }
        outlineLayer.addData(g);
        outlineLayer.bringToBack();
        $("outline-credit").textContent = " Country/region outlines: " + g.attribution + ".";
      })
      .catch(function () { /* orientation only: the page works without them */ });
  }
  connect();
  loadOutlines();
})();
