/* Live regions marked [data-morph] are updated in place instead of replaced: a refresh
   sends the version it shows (a 204 answers "nothing changed"); a new fragment changes only
   the rows and cells whose server HTML changed, so focus, hover and the reading position
   stay. While the pointer is over the table or focus is inside it, rows keep their order
   (new ones go last, gone ones stay, dimmed); the new order lands when the person leaves.
   Counter changes are announced through the page's polite live region. */
(function () {
  "use strict";
  var served = new WeakMap();  // element -> {rowId: server HTML} of the last fragment
  var pending = new WeakMap();  // element -> row order held back while someone interacts

  function interacting(live) {
    var table = live.querySelector("table");
    if (!table) { return false; }
    return table.matches(":hover") || table.contains(document.activeElement);
  }

  function syncAttributes(old, fresh) {
    var i, name;
    for (i = old.attributes.length - 1; i >= 0; i--) {
      name = old.attributes[i].name;
      if (!fresh.hasAttribute(name)) { old.removeAttribute(name); }
    }
    for (i = 0; i < fresh.attributes.length; i++) {
      name = fresh.attributes[i].name;
      if (old.getAttribute(name) !== fresh.attributes[i].value) { old.setAttribute(name, fresh.attributes[i].value); }
    }
  }

  // A small morph: same-shaped nodes are kept and patched, so a focused link stays the same node.
  function morph(old, fresh, skip) {
    if (skip && old === skip) { return; }  // rows were synced by key already
    if (old.nodeType !== fresh.nodeType || old.nodeName !== fresh.nodeName) {
      old.replaceWith(fresh);
      return;
    }
    if (old.nodeType !== 1) {
      if (old.nodeValue !== fresh.nodeValue) { old.nodeValue = fresh.nodeValue; }
      return;
    }
    syncAttributes(old, fresh);
    var olds = Array.prototype.slice.call(old.childNodes);
    var news = Array.prototype.slice.call(fresh.childNodes);
    for (var i = 0; i < news.length; i++) {
      if (i < olds.length) { morph(olds[i], news[i], skip); } else { old.appendChild(news[i]); }
    }
    for (var j = news.length; j < olds.length; j++) { olds[j].remove(); }
  }

  // A running run's time left is kept when one refresh has no estimate for it: no flicker.
  function keepEstimate(oldRow, newRow) {
    var before = oldRow.querySelector(".eta[data-run]");
    var after = newRow.querySelector(".eta[data-run]");
    if (before && after && !after.textContent.trim() && before.textContent.trim() &&
        before.getAttribute("data-run") === after.getAttribute("data-run")) {
      after.textContent = before.textContent;
    }
  }

  function applyOrder(tbody, ids) {
    var rows = {};
    Array.prototype.forEach.call(tbody.children, function (row) { rows[row.id] = row; });
    ids.forEach(function (id) { if (rows[id]) { tbody.appendChild(rows[id]); delete rows[id]; } });
    Object.keys(rows).forEach(function (id) { rows[id].remove(); });
  }

  function syncRows(live, oldBody, newBody, seen) {
    var newRows = Array.prototype.slice.call(newBody.children);
    var ids = newRows.map(function (row) { return row.id; });
    if (ids.some(function (id) { return !id; }) || Array.prototype.some.call(oldBody.children, function (r) { return !r.id; })) {
      morph(oldBody, newBody);  // an empty-state row: no keys to follow
      return;
    }
    newRows.forEach(function (row) {
      var current = document.getElementById(row.id);
      var html = row.outerHTML;
      if (current && current.parentNode === oldBody) {
        if (seen[row.id] !== html) { keepEstimate(current, row); morph(current, row); }
        current.classList.remove("gone");
      } else {
        oldBody.appendChild(row);
      }
      seen[row.id] = html;
    });
    if (interacting(live)) {
      Array.prototype.forEach.call(oldBody.children, function (row) {
        if (ids.indexOf(row.id) === -1) { row.classList.add("gone"); }
      });
      pending.set(live, ids);
    } else {
      applyOrder(oldBody, ids);
      pending.delete(live);
    }
  }

  function announce(live, summary) {
    var region = document.getElementById(live.id + "-announce");
    if (region && summary && live.getAttribute("data-summary") !== summary) { region.textContent = summary; }
  }

  function update(live, html) {
    var doc = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html");
    var fresh = doc.getElementById(live.id);
    if (!fresh) { return false; }
    var seen = served.get(live) || {};
    announce(live, fresh.getAttribute("data-summary"));
    var oldBody = live.querySelector("tbody");
    var newBody = fresh.querySelector("tbody");
    if (oldBody && newBody) { syncRows(live, oldBody, newBody, seen); }
    morph(live, fresh, oldBody && newBody ? oldBody : null);
    served.set(live, seen);
    // After the swap: a changed beat (live or idle) re-arms the trigger; new nodes get htmx.
    window.setTimeout(function () { window.htmx.process(live); }, 0);
    return true;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var el = event.detail.elt;
    if (el && el.hasAttribute && el.hasAttribute("data-morph") && el.getAttribute("data-version")) {
      event.detail.headers["X-Live-Version"] = el.getAttribute("data-version");
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var live = event.detail.target;
    if (!live || !live.hasAttribute || !live.hasAttribute("data-morph") || event.detail.xhr.status !== 200) { return; }
    if (update(live, event.detail.serverResponse)) {
      event.detail.shouldSwap = false;
      live.dispatchEvent(new CustomEvent("htmx:afterSettle", {bubbles: true, detail: {elt: live}}));
    }
  });
  function release(live) {
    var ids = pending.get(live);
    if (ids && !interacting(live)) {
      var body = live.querySelector("tbody");
      if (body) { applyOrder(body, ids); }
      pending.delete(live);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var lives = document.querySelectorAll("[data-morph]");
    Array.prototype.forEach.call(lives, function (live) {
      var seen = {};
      Array.prototype.forEach.call(live.querySelectorAll("tbody > tr[id]"), function (row) { seen[row.id] = row.outerHTML; });
      served.set(live, seen);
      live.addEventListener("pointerleave", function () { window.setTimeout(function () { release(live); }, 0); });
      live.addEventListener("focusout", function () { window.setTimeout(function () { release(live); }, 0); });
    });
  });
})();
