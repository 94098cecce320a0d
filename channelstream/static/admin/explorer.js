// Starts Swagger UI (from the swagger-ui-bundle package) on channelstream's OpenAPI document.
/* global SwaggerUIBundle */
window.addEventListener('DOMContentLoaded', () => {
    window.ui = SwaggerUIBundle({
        url: document.body.dataset.openapiUrl,
        dom_id: '#swagger-ui',
        deepLinking: true,
        docExpansion: 'list',
        defaultModelsExpandDepth: 0,
        displayRequestDuration: true,
        presets: [SwaggerUIBundle.presets.apis],
        layout: 'BaseLayout',
        // Same-origin calls carry the admin cookie, so "Try it out" works on admin routes.
        requestInterceptor: (request) => {
            request.credentials = 'same-origin';
            return request;
        },
    });
});
