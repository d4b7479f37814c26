// The unit's self-evaluation form, for people who fill it over several days: what is typed
// is kept in this tab (sessionStorage) until the server has it, saved every minute while
// typing, and survives a lost session (Enter moving to the next cell is app.js's); a tier
// change moves the
// suggested score and the tier's label. The page works without this script (plain posts).
(function () {
  "use strict";

  var form = document.getElementById("eval-form");
  if (!form) { return; }

  var storeKey = "jixiao-draft-" + form.getAttribute("data-evaluation");
  var autosaveUrl = form.getAttribute("data-autosave-url");
  var every = 1000 * (parseInt(form.getAttribute("data-autosave-seconds"), 10) || 60);
  var labels = (form.getAttribute("data-tier-labels") || "").split("|");
  var status = document.getElementById("autosave-status");
  var lostBanner = document.getElementById("session-lost");
  var changes = 0;      // inputs since the page loaded
  var savedAt = 0;      // the value of `changes` the server last confirmed
  var saving = false;
  var sessionLost = false;

  function versionInput() { return form.querySelector('input[name="version"]'); }
  function csrfInput() { return form.querySelector('input[name="csrf_token"]'); }

  function fields() {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.name !== "version" &&
        el.type !== "submit" && el.type !== "button" && el.type !== "file";
    });
  }

  function snapshot() {
    return fields().map(function (el) {
      return [el.name, el.type === "checkbox" ? (el.checked ? el.value : "") : el.value];
    });
  }

  function setStatus(text, bad) {
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle("text-danger", !!bad);
    status.classList.toggle("text-body-secondary", !bad);
  }

  // --- kept in this tab until the server has it -------------------------------------------

  function remember() {
    try {
      sessionStorage.setItem(storeKey, JSON.stringify({
        v: versionInput().value, t: Date.now(), fields: snapshot()
      }));
    } catch (e) { /* storage full or refused: the server's autosave still runs */ }
  }

  function forget() {
    try { sessionStorage.removeItem(storeKey); } catch (e) { /* nothing kept */ }
  }

  function kept() {
    try { return JSON.parse(sessionStorage.getItem(storeKey) || "null"); } catch (e) { return null; }
  }

  function apply(values) {
    values.forEach(function (pair) {
      var el = form.elements.namedItem(pair[0]);
      if (!el || el.length !== undefined && !el.tagName) { return; }
      if (el.type === "checkbox") { el.checked = pair[1] !== ""; } else { el.value = pair[1]; }
    });
    document.querySelectorAll(".reason-box textarea").forEach(function (area) {
      if (area.value.trim() !== "") { area.closest(".reason-box").classList.remove("d-none"); }
    });
    changes += 1;
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function offerRestore() {
    var item = kept();
    if (!item) { return; }
    if (String(item.v) !== versionInput().value ||
        JSON.stringify(item.fields) === JSON.stringify(snapshot())) {
      // Saved since (a newer version is shown), or nothing differs: nothing to offer.
      forget();
      return;
    }
    var offer = document.getElementById("restore-offer");
    if (!offer) { return; }
    var when = new Date(item.t);
    offer.querySelector("[data-restore-time]").textContent =
      when.toLocaleDateString("zh-CN") + " " + when.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
    offer.classList.remove("d-none");
    offer.querySelector("[data-restore]").addEventListener("click", function () {
      apply(item.fields);
      remember();
      offer.classList.add("d-none");
      setStatus("已恢复未保存的内容，请保存草稿");
    });
    offer.querySelector("[data-discard]").addEventListener("click", function () {
      forget();
      offer.classList.add("d-none");
    });
  }

  // --- autosave ---------------------------------------------------------------------------

  function lost() {
    sessionLost = true;
    if (lostBanner) { lostBanner.classList.remove("d-none"); }
    setStatus("未能自动保存：登录已失效（内容保留在本浏览器中）", true);
  }

  function found() {
    sessionLost = false;
    if (lostBanner) { lostBanner.classList.add("d-none"); }
  }

  function autosave(force) {
    if (saving || (!force && changes === savedAt)) { return Promise.resolve(); }
    saving = true;
    var upTo = changes;
    var body = new FormData(form);
    body.set("do", "autosave");
    setStatus("正在自动保存…");
    return fetch(autosaveUrl, {
      method: "POST", body: body, credentials: "same-origin", redirect: "manual",
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (resp) {
      if (resp.type === "opaqueredirect" || resp.status === 0 || resp.status === 400 || resp.status === 401) {
        lost();
        return null;
      }
      return resp.json().then(function (data) {
        if (!resp.ok) {
          setStatus("未能自动保存：" + (data.error || resp.status), true);
          return;
        }
        found();
        versionInput().value = data.version;
        savedAt = upTo;
        if (changes === upTo) { forget(); } else { remember(); }
        setStatus("已自动保存 " + data.saved_at +
          (data.problems ? "（尚有 " + data.problems + " 处填写错误）" : ""));
      });
    }).catch(function () {
      setStatus("网络中断，未能自动保存，稍后重试（内容保留在本浏览器中）", true);
    }).then(function () { saving = false; });
  }

  // After logging in again (in another tab), take this page's new form token, then save.
  function resume() {
    return fetch(form.getAttribute("action"), { credentials: "same-origin", redirect: "manual" })
      .then(function (resp) {
        if (resp.type === "opaqueredirect" || !resp.ok) { lost(); return; }
        return resp.text().then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var token = page.querySelector('#eval-form input[name="csrf_token"]');
          if (!token) { lost(); return; }
          csrfInput().value = token.value;
          document.querySelectorAll('input[name="csrf_token"]').forEach(function (other) {
            other.value = token.value;
          });
          found();
          return autosave(true);
        });
      }).catch(function () { lost(); });
  }

  // --- the cells --------------------------------------------------------------------------

  function focusables() {
    return Array.prototype.filter.call(
      form.querySelectorAll("input:not([type=hidden]), select, textarea"),
      function (el) { return !el.disabled && el.offsetParent !== null; });
  }

  form.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-score]")) { e.target.setAttribute("data-touched", "1"); }
  });

  // A new tier: the score typed for the old one (not by this person, here) gives way to the
  // new tier's suggestion, and a tier's printed label follows the tier.
  form.addEventListener("change", function (e) {
    var select = e.target;
    if (!select.matches || !select.matches("select[data-tier]")) { return; }
    var row = select.closest("tr");
    if (!row) { return; }
    var score = row.querySelector("[data-score]");
    if (score && !score.hasAttribute("data-touched")) { score.value = ""; }
    var actual = row.querySelector("[data-actual]");
    if (actual && select.name.slice(-5) === "-tier" && labels.indexOf(actual.value.trim()) !== -1 &&
        select.selectedIndex > 0) {
      actual.value = labels[select.selectedIndex - 1] || actual.value;
    }
  });

  ["input", "change"].forEach(function (type) {
    form.addEventListener(type, function () { changes += 1; remember(); });
  });

  function suggest() {
    form.querySelectorAll(".score-box").forEach(function (box) {
      var row = box.closest("tr");
      var score = row && row.querySelector("[data-score]");
      var shown = box.getAttribute("data-suggested");
      if (score) {
        score.placeholder = shown && shown !== "—" && shown !== "不适用" ? "按规则计 " + shown : "留空按规则计分";
      }
    });
  }

  // The problem lists stay as the person left them (open by default) across live updates.
  var keepOpen = {};
  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (d.matches && d.matches("details[data-keep]")) { keepOpen[d.getAttribute("data-keep")] = d.open; }
  }, true);

  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/login") !== -1) {
      e.detail.shouldSwap = false;
      lost();
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("#summary details[data-keep]").forEach(function (d) {
      var key = d.getAttribute("data-keep");
      if (key in keepOpen) { d.open = keepOpen[key]; }
    });
    suggest();
  });

  // A problem's link brings its row to the middle of the window and its first field into focus.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.problem-link");
    if (!link) { return; }
    var row = document.getElementById(link.getAttribute("href").slice(1));
    if (!row) { return; }
    e.preventDefault();
    var named = document.getElementById(link.getAttribute("data-field") || "");
    var field = (named && named.offsetParent !== null ? named : null) ||
      row.querySelector(".is-invalid") ||
      focusables().filter(function (el) { return row.contains(el) && el.type !== "checkbox"; })[0];
    // The field, not the row: a row's box takes in the 一级/二级 cells it spans.
    (field || row).scrollIntoView({ block: "center", behavior: "instant" });
    if (field) { field.focus({ preventScroll: true }); }
    if (history.replaceState) { history.replaceState(null, "", link.getAttribute("href")); }
  });

  form.addEventListener("submit", function (e) {
    remember();
    if (sessionLost) {
      e.preventDefault();
      lost();
      lostBanner.scrollIntoView({ block: "center" });
    }
  });

  var retry = document.querySelector("[data-retry-save]");
  if (retry) { retry.addEventListener("click", function () { resume(); }); }
  window.addEventListener("focus", function () { if (sessionLost) { resume(); } });
  document.addEventListener("jixiao:autosave", function () { autosave(false); });
  setInterval(function () { autosave(false); }, every);

  suggest();
  offerRestore();
})();
