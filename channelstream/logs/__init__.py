"""Log lines for operators: ``access`` writes one line per request off the request path;
``json_lines`` makes every log line a JSON object (``channelstream.log_format = json``)."""
