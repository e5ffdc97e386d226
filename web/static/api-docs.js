/* The API documentation page (/api.html): Swagger UI from the local swagger-ui-dist package,
 * reading the OpenAPI document at the address the page names (data-openapi). No network:
 * no validator badge, no external fonts or images. */
(function (window, document) {
  "use strict";
  function start() {
    var box = document.getElementById("swagger-ui");
    if (!box || !window.SwaggerUIBundle) return;
    var loading = document.getElementById("api-loading");
    window.ui = window.SwaggerUIBundle({
      url: box.getAttribute("data-openapi") || "/api",
      domNode: box,
      deepLinking: true,
      validatorUrl: null,
      tryItOutEnabled: false,
      persistAuthorization: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      onComplete: function () { if (loading) loading.hidden = true; }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(window, document);
