/* galvae explore: the latent-space map of window.GALVAE_EXPLORE (explore-data.js), drawn on a canvas.
   No library and no network: the data is a script beside the page, the thumbnails are atlas images in thumbs/.
   window.galvaeExplorer exposes select(), find(), screenOf() and timing stats (used by the browser tests). */
(function () {
  "use strict";
  var D = window.GALVAE_EXPLORE;
  var $ = function (id) { return document.getElementById(id); };
  var statusEl = $("status");
  if (!D) {
    statusEl.className = "error";
    statusEl.textContent = "The page data did not load: keep index.html beside explore-data.js and the thumbs/ folder.";
    return;
  }

  // ------------------------------------------------------------------ data
  function bytes(s) {
    var bin = atob(s), n = bin.length, u = new Uint8Array(n);
    for (var i = 0; i < n; i++) u[i] = bin.charCodeAt(i);
    return u.buffer;
  }
  var N = D.n, K = D.k, ids = D.ids;
  var X = new Float32Array(bytes(D.x)), Y = new Float32Array(bytes(D.y));
  var ORDER = new Int32Array(bytes(D.order));
  var NB = new Int32Array(bytes(D.neighbours)), ND = new Float32Array(bytes(D.distances));
  var columns = D.columns.map(function (c) {
    var col = { name: c.name, kind: c.kind, meta: c };
    if (c.kind === "numeric") col.values = new Float32Array(bytes(c.data));
    else if (c.kind === "category") col.values = new Uint8Array(bytes(c.data));
    else col.values = c.values;
    return col;
  });
  var byName = {};
  columns.forEach(function (c) { byName[c.name] = c; });
  var idIndex = null;  // id -> row, built on the first search
  var T = D.thumbs.size, PER_ROW = D.thumbs.per_row, PER_ATLAS = D.thumbs.per_atlas;

  // ------------------------------------------------------------------ colours
  var VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
                 "#7ad151", "#bddf26", "#fde725"];
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                 "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d"];
  var OTHER = "#7f7f7f", MISSING = "#cfcfcf", PLAIN = "#3b6fb6", BG = "#ffffff";
  function rgb(hex) { return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)]; }
  function packed(c) { return (255 << 24 | c[2] << 16 | c[1] << 8 | c[0]) >>> 0; }  // ImageData pixel, little-endian
  var VIR = VIRIDIS.map(rgb);
  var LUT = new Uint32Array(256);
  for (var li = 0; li < 256; li++) {
    var f = li / 255 * (VIR.length - 1), lo = Math.min(VIR.length - 2, Math.floor(f)), w = f - lo;
    LUT[li] = packed([0, 1, 2].map(function (ch) { return Math.round(VIR[lo][ch] * (1 - w) + VIR[lo + 1][ch] * w); }));
  }
  var colors = new Uint32Array(N), drawOrder = ORDER, colorCol = null;
  var focus = -1;  // a category picked in the legend (its code; 255: missing): the others are faded
  var FADED = "#e4e4e4";

  function setColor(name) {
    if (!colorCol || colorCol.name !== name) focus = -1;
    colorCol = byName[name] || null;
    var missing = packed(rgb(MISSING)), faded = packed(rgb(FADED)), first = [], rest = [];
    if (!colorCol) {
      colors.fill(packed(rgb(PLAIN)));
    } else if (colorCol.kind === "numeric") {
      var m = colorCol.meta, lo = m.lo, hi = m.hi, v = colorCol.values;
      var span = (hi !== null && hi > lo) ? hi - lo : 1;
      for (var i = 0; i < N; i++) {
        var x = v[i];
        if (x !== x) { colors[i] = missing; continue; }
        var t = (x - lo) / span;
        colors[i] = LUT[t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255)];
      }
    } else {
      var pal = PALETTE.map(function (h) { return packed(rgb(h)); }), other = packed(rgb(OTHER)), codes = colorCol.values;
      for (var j = 0; j < N; j++) {
        var c = codes[j];
        colors[j] = focus >= 0 && c !== focus ? faded : c === 255 ? missing : c < pal.length ? pal[c] : other;
      }
    }
    // missing and faded values underneath, the rest in the page's fixed random order
    for (var o = 0; o < N; o++) {
      var r = ORDER[o];
      (colors[r] === faded || (colors[r] === missing && focus !== 255) ? first : rest).push(r);
    }
    drawOrder = first.length ? Int32Array.from(first.concat(rest)) : ORDER;
    legend();
    if (sel >= 0) select(sel, false);  // the row of the colouring column is shown in bold
    requestDraw();
  }

  function fmt(v, integer) {
    if (v === null || v === undefined || v !== v) return "–";
    if (integer && Math.abs(v) < 1e15) return String(Math.round(v));
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(3);
    return String(Number(v.toPrecision(4)));
  }
  function valueText(col, i) {
    if (col.kind === "numeric") return fmt(col.values[i], col.meta.integer);
    if (col.kind === "category") { var c = col.values[i]; return c === 255 ? "–" : col.meta.categories[c]; }
    var t = col.values[i]; return t === null ? "–" : t;
  }

  function legend() {
    var el = $("legend");
    el.textContent = "";
    if (!colorCol) return;
    var m = colorCol.meta;
    if (colorCol.kind === "numeric") {
      var cv = document.createElement("canvas");
      cv.width = 256; cv.height = 1;
      var cx = cv.getContext("2d"), img = cx.createImageData(256, 1);
      new Uint32Array(img.data.buffer).set(LUT);
      cx.putImageData(img, 0, 0);
      el.appendChild(document.createTextNode(fmt(m.lo, false)));
      el.appendChild(cv);
      el.appendChild(document.createTextNode(fmt(m.hi, false) + " (1st–99th percentile; range " +
        fmt(m.min, m.integer) + " to " + fmt(m.max, m.integer) + ")"));
    } else {
      m.categories.forEach(function (name, k) {
        if (k < PALETTE.length) legendItem(el, PALETTE[k], name + " (" + m.counts[k] + ")", k);
      });
      if (m.categories.length > PALETTE.length) {
        var rest = m.counts.slice(PALETTE.length).reduce(function (a, b) { return a + b; }, 0);
        legendItem(el, OTHER, (m.categories.length - PALETTE.length) + " others (" + rest + ")", -1);
      }
    }
    if (m.missing) legendItem(el, MISSING, "missing (" + m.missing + ")", colorCol.kind === "category" ? 255 : -1);
  }

  // a legend entry; a category's entry is a button that fades every other category (again: all shown)
  function legendItem(el, color, text, code) {
    var item = document.createElement(code >= 0 ? "button" : "span"), sw = document.createElement("i");
    sw.className = "sw"; sw.style.background = color;
    item.appendChild(sw); item.appendChild(document.createTextNode(text));
    if (code >= 0) {
      item.type = "button"; item.className = "lg" + (focus < 0 ? "" : focus === code ? " on" : " off");
      item.title = focus === code ? "show every category" : "show only this category";
      item.dataset.code = String(code);
      item.addEventListener("click", function () { focus = focus === code ? -1 : code; setColor(colorCol.name); });
    }
    el.appendChild(item);
  }

  // ------------------------------------------------------------------ view and spatial grid
  var canvas = $("map"), overlay = $("overlay"), ctx = canvas.getContext("2d"), octx = overlay.getContext("2d");
  var W = 1, H = 1, dpr = 1, img = null, buf = null;
  var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (var b = 0; b < N; b++) {
    if (X[b] < minX) minX = X[b]; if (X[b] > maxX) maxX = X[b];
    if (Y[b] < minY) minY = Y[b]; if (Y[b] > maxY) maxY = Y[b];
  }
  var spanX = (maxX - minX) || 1, spanY = (maxY - minY) || 1;
  var view = { cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, scale: 1 };
  var pointPx = N <= 2000 ? 5 : N <= 20000 ? 3 : 2;  // CSS pixels

  // a uniform grid over the map, about 4 galaxies per cell: cellStart[c]..cellStart[c+1] index cellItems
  var G = Math.max(1, Math.ceil(Math.sqrt(N / 4)));
  var cellW = spanX / G, cellH = spanY / G;
  var cellStart = new Int32Array(G * G + 1), cellItems = new Int32Array(N);
  function cellX(x) { var c = Math.floor((x - minX) / cellW); return c < 0 ? 0 : c >= G ? G - 1 : c; }
  function cellY(y) { var c = Math.floor((y - minY) / cellH); return c < 0 ? 0 : c >= G ? G - 1 : c; }
  (function buildGrid() {
    var cell = new Int32Array(N), i;
    for (i = 0; i < N; i++) { cell[i] = cellY(Y[i]) * G + cellX(X[i]); cellStart[cell[i] + 1]++; }
    for (i = 0; i < G * G; i++) cellStart[i + 1] += cellStart[i];
    var fill = cellStart.slice(0, G * G);
    for (i = 0; i < N; i++) cellItems[fill[cell[i]]++] = i;
  })();

  function fit() {
    view.cx = (minX + maxX) / 2; view.cy = (minY + maxY) / 2;
    view.scale = 0.92 * Math.min(W / spanX, H / spanY);
  }
  function toScreen(i) { return [(X[i] - view.cx) * view.scale + W / 2, H / 2 - (Y[i] - view.cy) * view.scale]; }
  function nearest(px, py, radius) {
    var dx = (px - W / 2) / view.scale + view.cx, dy = view.cy - (py - H / 2) / view.scale, r = radius / view.scale;
    var x0 = cellX(dx - r), x1 = cellX(dx + r), y0 = cellY(dy - r), y1 = cellY(dy + r);
    var best = -1, bestD = r * r;
    for (var gy = y0; gy <= y1; gy++) {
      for (var gx = x0; gx <= x1; gx++) {
        var c = gy * G + gx;
        for (var p = cellStart[c]; p < cellStart[c + 1]; p++) {
          var i = cellItems[p], ex = X[i] - dx, ey = Y[i] - dy, d = ex * ex + ey * ey;
          if (d <= bestD) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  // ------------------------------------------------------------------ drawing
  var stats = { drawMs: 0, hoverMs: 0, draws: 0, hovers: 0, loadMs: 0 };
  var dirty = false, frameQueued = false, pendingHover = null, sel = -1, hoverI = -1;
  function queueFrame() { if (!frameQueued) { frameQueued = true; requestAnimationFrame(frame); } }
  function requestDraw() { dirty = true; queueFrame(); }
  function frame() {
    frameQueued = false;
    if (dirty) { dirty = false; draw(); }
    if (pendingHover) { var h = pendingHover; pendingHover = null; hover(h[0], h[1]); }
  }

  function resize() {
    var r = canvas.getBoundingClientRect(), oldW = W, oldH = H;
    dpr = window.devicePixelRatio || 1;
    W = Math.max(1, r.width); H = Math.max(1, r.height);
    canvas.width = overlay.width = Math.round(W * dpr);
    canvas.height = overlay.height = Math.round(H * dpr);
    if (!img || oldW <= 1) fit(); else view.scale *= Math.min(W / oldW, H / oldH);
    img = ctx.createImageData(canvas.width, canvas.height);
    buf = new Uint32Array(img.data.buffer);
    requestDraw();
  }

  function draw() {
    var t0 = performance.now();
    var w = canvas.width, h = canvas.height, s = view.scale * dpr;
    var ps = Math.max(1, Math.round(pointPx * dpr)), half = ps >> 1;
    var ox = w / 2 - view.cx * s - half, oy = h / 2 + view.cy * s - half;
    buf.fill(packed(rgb(BG)));
    for (var o = 0; o < N; o++) {
      var i = drawOrder[o];
      var sx = Math.round(X[i] * s + ox), sy = Math.round(oy - Y[i] * s);
      if (sx < 0 || sy < 0 || sx > w - ps || sy > h - ps) continue;
      var c = colors[i], p = sy * w + sx;
      for (var yy = 0; yy < ps; yy++, p += w) for (var xx = 0; xx < ps; xx++) buf[p + xx] = c;
    }
    ctx.putImageData(img, 0, 0);
    drawOverlay();
    stats.drawMs = performance.now() - t0;
    stats.draws++;
  }

  function ring(i, radius, color, width) {
    var p = toScreen(i);
    octx.beginPath(); octx.arc(p[0], p[1], radius, 0, 2 * Math.PI);
    octx.lineWidth = width; octx.strokeStyle = color; octx.stroke();
  }
  function drawOverlay() {
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    octx.clearRect(0, 0, W, H);
    if (sel >= 0) {
      var p0 = toScreen(sel);
      octx.strokeStyle = "rgba(230,60,30,.55)"; octx.lineWidth = 1;
      for (var j = 0; j < K; j++) {
        var n = NB[sel * K + j]; if (n < 0) continue;
        var p = toScreen(n);
        octx.beginPath(); octx.moveTo(p0[0], p0[1]); octx.lineTo(p[0], p[1]); octx.stroke();
      }
      for (var q = 0; q < K; q++) { var m = NB[sel * K + q]; if (m >= 0) ring(m, 5, "#e63c1e", 1.5); }
      ring(sel, 8, "#000", 3); ring(sel, 8, "#ffd400", 1.5);
    }
    if (hoverI >= 0 && hoverI !== sel) ring(hoverI, 6, "#000", 1.5);
  }

  // ------------------------------------------------------------------ thumbnails
  function thumb(el, i, scale, recon) {
    var list = recon ? D.thumbs.reconstructions : D.thumbs.images;
    var a = Math.floor(i / PER_ATLAS), k = i % PER_ATLAS, col = k % PER_ROW, row = Math.floor(k / PER_ROW);
    var size = T * scale;
    el.style.width = el.style.height = size + "px";
    el.classList.toggle("big", scale >= 3);
    var im = el.firstChild;
    if (!im) { im = document.createElement("img"); im.alt = ""; im.decoding = "async"; el.appendChild(im); }
    var src = D.thumbs.dir + "/" + list[a];
    if (im.getAttribute("src") !== src) im.setAttribute("src", src);
    im.style.width = (PER_ROW * size) + "px";
    im.style.left = (-col * size) + "px";
    im.style.top = (-row * size) + "px";
    el.dataset.index = String(i);
    return el;
  }

  // ------------------------------------------------------------------ hover
  var tip = $("tip"), tipText = $("tip-text");
  function hover(px, py) {
    var t0 = performance.now();
    var i = px === null ? -1 : nearest(px, py, Math.max(6, pointPx + 3));
    if (i !== hoverI) {
      hoverI = i;
      if (i < 0) { tip.hidden = true; }
      else {
        thumb($("tip-thumb"), i, 2, false);
        tipText.textContent = ids[i] + (colorCol ? "\n" + colorCol.name + " = " + valueText(colorCol, i) : "");
        tip.hidden = false;
      }
      drawOverlay();
    }
    if (i >= 0) {
      var tw = tip.offsetWidth, th = tip.offsetHeight;
      tip.style.left = (px + 16 + tw > W ? px - 16 - tw : px + 16) + "px";
      tip.style.top = (py + 16 + th > H ? Math.max(0, py - 16 - th) : py + 16) + "px";
    }
    stats.hoverMs = performance.now() - t0;
    stats.hovers++;
  }

  // ------------------------------------------------------------------ selection panel
  function select(i, center) {
    if (i < 0 || i >= N) return;
    sel = i;
    $("panel-empty").hidden = true;
    $("detail").hidden = false;
    $("sel-id").textContent = ids[i];
    thumb($("sel-image"), i, 4, false);
    var hasRecon = !!D.thumbs.reconstructions;
    $("sel-recon-fig").hidden = !hasRecon;
    if (hasRecon) thumb($("sel-recon"), i, 4, true);
    $("recon-note").textContent = D.reconstruction_note;
    $("nb-title").textContent = "Nearest neighbours in latent space (" + K + ", " + D.metric + " distance)";
    var box = $("neighbours");
    box.textContent = "";
    for (var j = 0; j < K; j++) {
      var n = NB[i * K + j];
      if (n < 0) continue;
      var card = document.createElement("button");
      card.type = "button"; card.className = "nb"; card.dataset.id = ids[n];
      card.title = ids[n] + ": distance " + fmt(ND[i * K + j], false);
      var th = document.createElement("div"); th.className = "thumb";
      card.appendChild(thumb(th, n, 2, false));
      var s1 = document.createElement("span"); s1.textContent = ids[n]; card.appendChild(s1);
      var d = ND[i * K + j], s2 = document.createElement("span");  // 3 digits fit a card
      s2.textContent = "d = " + (d === d ? (d !== 0 && Math.abs(d) < 1e-3 ? d.toExponential(1) : String(Number(d.toPrecision(3)))) : "–");
      card.appendChild(s2);
      card.addEventListener("click", (function (m) { return function () { select(m, true); }; })(n));
      box.appendChild(card);
    }
    var tbody = $("row").tBodies[0];
    tbody.textContent = "";
    var addRow = function (name, value, cls) {
      var tr = document.createElement("tr"), thh = document.createElement("th"), td = document.createElement("td");
      thh.textContent = name; td.textContent = value; if (cls) tr.className = cls;
      tr.appendChild(thh); tr.appendChild(td); tbody.appendChild(tr);
    };
    addRow("id", ids[i]);
    addRow("map", fmt(X[i], false) + ", " + fmt(Y[i], false));
    columns.forEach(function (c) { addRow(c.name, valueText(c, i), c === colorCol ? "color" : ""); });
    if (center) { view.cx = X[i]; view.cy = Y[i]; }
    if (history.replaceState) history.replaceState(null, "", "#id=" + encodeURIComponent(ids[i]));
    requestDraw();
  }

  // ------------------------------------------------------------------ search
  function find(text) {
    if (!idIndex) { idIndex = new Map(); for (var i = 0; i < N; i++) idIndex.set(ids[i], i); }
    return idIndex.has(text) ? idIndex.get(text) : -1;
  }
  var results = $("search-results");
  function search(text) {
    text = text.trim();
    results.textContent = "";
    results.hidden = true;
    if (!text) return;
    var i = find(text);
    if (i >= 0) { select(i, true); return; }
    var low = text.toLowerCase(), hits = [];
    for (var j = 0; j < N && hits.length < 20; j++) if (ids[j].toLowerCase().indexOf(low) >= 0) hits.push(j);
    results.hidden = false;
    if (!hits.length) {
      var msg = document.createElement("div"); msg.className = "msg";
      msg.textContent = "no galaxy id contains “" + text + "”";
      results.appendChild(msg);
      return;
    }
    hits.forEach(function (h) {
      var bt = document.createElement("button"); bt.type = "button"; bt.textContent = ids[h];
      bt.addEventListener("click", function () { results.hidden = true; $("search").value = ids[h]; select(h, true); });
      results.appendChild(bt);
    });
  }
  $("search-form").addEventListener("submit", function (e) { e.preventDefault(); search($("search").value); });
  document.addEventListener("click", function (e) { if (!$("search-form").contains(e.target)) results.hidden = true; });

  // ------------------------------------------------------------------ pointer: hover, click, drag, wheel
  var drag = null;
  function local(e) { var r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
  canvas.addEventListener("pointerdown", function (e) {
    var p = local(e);
    drag = { x: p[0], y: p[1], cx: view.cx, cy: view.cy, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", function (e) {
    var p = local(e);
    if (drag) {
      var dx = p[0] - drag.x, dy = p[1] - drag.y;
      if (drag.moved || dx * dx + dy * dy > 16) {
        drag.moved = true;
        view.cx = drag.cx - dx / view.scale; view.cy = drag.cy + dy / view.scale;
        tip.hidden = true; hoverI = -1;
        requestDraw();
        return;
      }
    }
    pendingHover = p; queueFrame();
  });
  canvas.addEventListener("pointerup", function (e) {
    var p = local(e), d = drag;
    drag = null;
    if (d && !d.moved) { var i = nearest(p[0], p[1], Math.max(6, pointPx + 3)); if (i >= 0) select(i, false); }
  });
  canvas.addEventListener("pointerleave", function () { if (!drag) { pendingHover = null; hover(null, null); } });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = local(e), f = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    var dx = (p[0] - W / 2) / view.scale + view.cx, dy = view.cy - (p[1] - H / 2) / view.scale;
    view.scale *= f;
    view.cx = dx - (p[0] - W / 2) / view.scale; view.cy = dy + (p[1] - H / 2) / view.scale;
    requestDraw();
  }, { passive: false });
  $("reset").addEventListener("click", function () { fit(); requestDraw(); });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { sel = -1; $("detail").hidden = true; $("panel-empty").hidden = false; requestDraw(); }
  });

  // ------------------------------------------------------------------ start
  var select_ = $("color");
  var none = document.createElement("option"); none.value = ""; none.textContent = "(one colour)";
  select_.appendChild(none);
  columns.forEach(function (c) {
    if (c.kind === "text") return;
    var op = document.createElement("option"); op.value = c.name;
    op.textContent = c.name + (D.catalog_columns.indexOf(c.name) >= 0 ? "" : " (latent catalogue)");
    select_.appendChild(op);
  });
  select_.value = D.color || "";
  select_.addEventListener("change", function () { setColor(select_.value); });
  $("axes").textContent = D.map.axes[0] + " → , " + D.map.axes[1] + " ↑";
  $("foot").textContent = N + " galaxies · " + D.map.note + " Neighbours: " + (D.index === "exact" ? "exact" : "approximate (" + D.index + ")") + " " + D.metric + " search over the " +
    "latent means. Made by galvae " + D.galvae_version + " on " + D.created + " from " + D.sources.latents +
    " and " + D.sources.store + ". Nothing is loaded from the network.";
  if (window.ResizeObserver) new ResizeObserver(resize).observe($("mapwrap"));
  else window.addEventListener("resize", resize);
  resize();
  setColor(select_.value);
  draw();
  statusEl.textContent = N + " galaxies";
  if (location.hash.indexOf("#id=") === 0) {
    var start = find(decodeURIComponent(location.hash.slice(4)));
    if (start >= 0) select(start, true);
  }
  stats.loadMs = performance.now();
  window.galvaeExplorer = {
    n: N, stats: stats, ready: true,
    select: function (id) { var i = find(String(id)); if (i >= 0) select(i, true); return i; },
    find: find,
    screenOf: function (id) { var i = find(String(id)); return i < 0 ? null : toScreen(i); },
    nearest: function (x, y) { return nearest(x, y, Math.max(6, pointPx + 3)); },
    draw: function () { draw(); return stats.drawMs; },
    hoverAt: function (x, y) { hover(x, y); return stats.hoverMs; },
    view: view
  };
})();
