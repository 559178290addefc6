// The demo page's forms, posting straight to the widget API (design.md §4). Stands in for the real
// widget (crm_bridge/static/crm_bridge/widget.js) so the API can be tried by hand; no inline handlers.
(function () {
  "use strict";
  var script = document.currentScript;
  var key = script.getAttribute("data-crm-key");
  var api = script.getAttribute("data-crm-api");
  var shownAt = Date.now();

  function uuid() {
    return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2);
  }

  document.querySelectorAll("form.demo").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = form.querySelector(".status");
      var body = { key: key, page_url: location.href, fill_ms: Date.now() - shownAt };
      new FormData(form).forEach(function (value, name) { body[name] = value; });
      form.querySelectorAll(".errors").forEach(function (e) { e.remove(); });
      status.textContent = "提交中…";
      fetch(api + "widget/v1/" + form.getAttribute("data-kind"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": uuid() },
        body: JSON.stringify(body),
      }).then(function (response) {
        return response.json().then(function (data) { return { status: response.status, data: data }; });
      }).then(function (r) {
        if (r.status === 202) {
          status.textContent = "已收到，谢谢！编号 " + r.data.id;
          form.reset();
          return;
        }
        status.textContent = r.data.detail || "请检查以下内容";
        Object.keys(r.data).forEach(function (field) {
          var input = form.querySelector('[name="' + field + '"]');
          if (!input) return;
          var err = document.createElement("div");
          err.className = "errors";
          err.textContent = [].concat(r.data[field]).join(" ");
          input.insertAdjacentElement("afterend", err);
        });
      }).catch(function () {
        status.textContent = "网络错误，请稍后再试";
      });
    });
  });
})();
