{{/* One worker Deployment; call with (dict "root" $ "name" "timeline" "roles" (list …)
     "replicas" n "resources" {…}). */}}
{{- define "wismo.workerDeployment" -}}
{{- $root := .root }}
{{- $w := $root.Values.workers }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "wismo.fullname" $root }}-{{ .name }}
  labels:
    {{- include "wismo.componentLabels" (list $root "worker") | nindent 4 }}
    wismo.io/role: {{ .name }}
spec:
  replicas: {{ int .replicas }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "wismo.componentSelector" (list $root "worker") | nindent 6 }}
      wismo.io/role: {{ .name }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Replace one consumer at a time: each change of membership is a group rebalance.
      maxSurge: 0
      maxUnavailable: 1
  template:
    metadata:
      labels:
        {{- include "wismo.componentSelector" (list $root "worker") | nindent 8 }}
        wismo.io/role: {{ .name }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "wismo.podAnnotations" $root | nindent 8 }}
    spec:
      {{- include "wismo.podSecurity" $root | nindent 6 }}
      # SIGTERM makes the worker stop fetching, finish its batch, flush writes and commit offsets.
      terminationGracePeriodSeconds: {{ int $w.terminationGracePeriodSeconds }}
      containers:
        - name: worker
          image: {{ include "wismo.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          {{- if eq (len .roles) (len $root.Values.workers.roles) }}
          args: ["worker", "--web-host", "0.0.0.0", "--web-port", {{ int $w.port | toString | quote }}]
          {{- else }}
          args: ["run", "--roles", {{ join "," .roles | quote }}, "--web-host", "0.0.0.0", "--web-port", {{ int $w.port | toString | quote }}]
          {{- end }}
          ports:
            - name: metrics
              containerPort: {{ int $w.port }}
              protocol: TCP
          {{- include "wismo.containerEnv" (dict "root" $root "configMap" (include "wismo.fullname" $root) "secret" (include "wismo.secretName" $root)) | nindent 10 }}
          {{- range $probe := list "startupProbe" "livenessProbe" }}
          {{- with index $w $probe }}
          {{ $probe }}:
            {{- if not (or .httpGet .exec .tcpSocket .grpc) }}
            exec:
              command:
                - python
                - -c
                - {{ printf "import urllib.request; urllib.request.urlopen('http://127.0.0.1:%d/healthz', timeout=4)" (int $w.port) | quote }}
            {{- end }}
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- end }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ int $w.preStopSleepSeconds | toString | quote }}]
          {{- with $root.Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml .resources | nindent 12 }}
          volumeMounts:
            - {name: data, mountPath: {{ $root.Values.settings.data_dir }}}
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: tmp
          emptyDir: {}
        - name: data
          emptyDir: {}
      {{- with $w.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
