// The review pages' only script, no build step: local times with their ages, and live regions.
// Without it every page still reads: times stay in UTC and a reload shows what changed.
(function () {
  "use strict";

  var UNITS = [["day", 86400], ["hour", 3600], ["min", 60], ["s", 1]];

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function age(ms) {
    var s = Math.abs(ms) / 1000;
    if (s < 5) { return "just now"; }
    for (var i = 0; i < UNITS.length; i++) {
      if (s >= UNITS[i][1] || i === UNITS.length - 1) {
        var n = Math.floor(s / UNITS[i][1]);
        var unit = UNITS[i][0] + (n !== 1 && UNITS[i][0] !== "s" && UNITS[i][0] !== "min" ? "s" : "");
        return ms >= 0 ? n + " " + unit + " ago" : "in " + n + " " + unit;
      }
    }
    return "";
  }

  // Each <time datetime=ISO> (UTC text from the server) shown in the browser's time zone.
  function localTimes(root) {
    var times = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) { continue; }
      if (!el.hasAttribute("data-utc")) {
        el.setAttribute("data-utc", el.textContent);
        el.title = el.textContent;
      }
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
        " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
        " (" + age(Date.now() - d.getTime()) + ")";
      el.setAttribute("data-local", "");
    }
  }

  // A region with data-live="/live/..." takes each `update` event's HTML (rendered and escaped
  // by the server's templates), keeping open any <details> the reader expanded.
  function live(region) {
    if (!window.EventSource) { return; }
    var source = new EventSource(region.getAttribute("data-live"));
    source.addEventListener("update", function (event) {
      var open = [];
      var expanded = region.querySelectorAll("details[open][id]");
      for (var i = 0; i < expanded.length; i++) { open.push(expanded[i].id); }
      var status = region.querySelector("#run-status");
      var before = status ? status.textContent : null;
      region.innerHTML = event.data;
      for (var j = 0; j < open.length; j++) {
        var again = document.getElementById(open[j]);
        if (again && region.contains(again)) { again.open = true; }
      }
      localTimes(region);
      var after = region.querySelector("#run-status");
      var note = document.getElementById("live-note");
      if (note && after && after.textContent !== before) {
        note.textContent = "Run status: " + after.textContent;
      }
      if (after && after.textContent !== before) { followStatus(); }
      region.setAttribute("data-updated", String(Date.now()));
    });
    source.addEventListener("end", function () {
      source.close();
      region.setAttribute("data-ended", "");
    });
  }

  // Parts outside the live region that depend on the run's status (its actions, its history)
  // are fetched again from the page when the status changes, unless the reader is using them.
  function followStatus() {
    var parts = document.querySelectorAll("[data-follow-status][id]");
    if (!parts.length || !window.fetch || !window.DOMParser) { return; }
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        for (var i = 0; i < parts.length; i++) {
          var part = parts[i];
          var again = fresh.getElementById(part.id);
          if (!again || part.contains(document.activeElement)) { continue; }
          part.innerHTML = again.innerHTML;
          localTimes(part);
        }
      });
  }

  // A JSON field (textarea[data-json]) is checked before its form is sent; the server checks
  // again and says what is wrong. Delegated, so forms fetched again by followStatus keep it.
  function checkJson(event) {
    var area = event.target.querySelector ? event.target.querySelector("textarea[data-json]") : null;
    if (!area) { return; }
    area.setCustomValidity("");
    if (area.value.trim() === "") { return; }
    try { JSON.parse(area.value); } catch (error) {
      area.setCustomValidity("The payload is not valid JSON: " + error.message);
      area.reportValidity();
      event.preventDefault();
    }
  }

  function start() {
    document.addEventListener("submit", checkJson, true);
    document.addEventListener("input", function (event) {
      if (event.target.matches && event.target.matches("textarea[data-json]")) {
        event.target.setCustomValidity("");
      }
    });
    localTimes(document);
    var regions = document.querySelectorAll("[data-live]");
    for (var i = 0; i < regions.length; i++) { live(regions[i]); }
    window.setInterval(function () { localTimes(document); }, 30000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
