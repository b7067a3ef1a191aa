// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // After a refused form, move focus to the list of errors so screen readers read it first.
  var summary = document.getElementById("hata-ozeti");
  if (summary) { summary.focus(); }

  // T.C. Kimlik No check digits, checked as soon as the field is left (the server checks again).
  var tckn = document.querySelector("input[data-tckn]");
  var tcknNote = document.getElementById("tckn-canli");
  var tcknValid = function (v) {
    if (!/^[1-9][0-9]{10}$/.test(v)) return false;
    var d = v.split("").map(Number);
    var odd = d[0] + d[2] + d[4] + d[6] + d[8], even = d[1] + d[3] + d[5] + d[7];
    var d10 = ((odd * 7 - even) % 10 + 10) % 10;
    var d11 = (d.slice(0, 10).reduce(function (a, b) { return a + b; }, 0)) % 10;
    return d[9] === d10 && d[10] === d11;
  };
  if (tckn && tcknNote) {
    tckn.addEventListener("blur", function () {
      var v = tckn.value.replace(/\s+/g, "");
      tcknNote.textContent = (v === "" || tcknValid(v)) ? "" :
        "Girdiğiniz T.C. Kimlik No (" + v + ") geçerli görünmüyor; 11 haneyi kontrol edin.";
    });
  }

  // Live character count for <textarea data-count="id-of-output">.
  document.querySelectorAll("textarea[data-count]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("data-count"));
    var max = parseInt(area.getAttribute("maxlength") || "0", 10);
    if (!out) return;
    var update = function () {
      out.textContent = area.value.length + " / " + max + " karakter";
    };
    area.addEventListener("input", update);
    update();
  });

  // Countdown for <span data-countdown="seconds">: "2 dk 59 sn", and enables the button named in
  // data-enables once it reaches zero (the server checks the time again in any case).
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var left = parseInt(el.getAttribute("data-countdown"), 10);
    var target = el.getAttribute("data-enables");
    var done = el.getAttribute("data-done") || "";
    var suffix = el.getAttribute("data-suffix") || "";
    var button = target ? document.getElementById(target) : null;
    var show = function () {
      if (left <= 0) {
        el.textContent = done;
        if (button) { button.removeAttribute("aria-disabled"); button.disabled = false; }
        return false;
      }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = (m > 0 ? m + " dk " : "") + s + " sn" + suffix;
      return true;
    };
    if (button && left > 0) { button.disabled = true; }
    if (!show()) return;
    var timer = setInterval(function () {
      left -= 1;
      if (!show()) clearInterval(timer);
    }, 1000);
  });

  // A second click on a submit button while the page is sending does nothing (the server also
  // deduplicates with the form's one-time token).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
})();
