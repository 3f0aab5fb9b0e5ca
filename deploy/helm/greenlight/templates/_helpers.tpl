{{- define "greenlight.labels" -}}
app.kubernetes.io/name: {{ .Release.Name }}
{{- end }}

{{- define "greenlight.secretName" -}}
{{ default (printf "%s-tokens" .Release.Name) .Values.tokens.existingSecret }}
{{- end }}
