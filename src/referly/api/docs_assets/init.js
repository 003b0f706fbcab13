// Starts Swagger UI on the API document named by the page; kept out of the page itself so the
// page's Content-Security-Policy allows no inline script.
(function () {
  var page = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: page.getAttribute('data-openapi'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: 'BaseLayout',
    persistAuthorization: true
  });
})();
