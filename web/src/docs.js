// docs.js — the API reference page (/docs): Swagger UI, served locally, over
// the server's own /openapi.json. "Try it out" sends the key the console
// stored in this tab (session storage), so a signed-in user can call routes.
'use strict';
window.addEventListener('DOMContentLoaded', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    requestInterceptor: function (req) {
      var key = sessionStorage.getItem('trainyard.key');
      if (key && !req.headers['X-API-Key']) req.headers['X-API-Key'] = key;
      return req;
    },
  });
});
