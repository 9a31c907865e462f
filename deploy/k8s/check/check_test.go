package main

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func TestRepositoryKustomizations(t *testing.T) {
	for _, dir := range Dirs {
		t.Run(dir, func(t *testing.T) {
			objs, err := Build(filesys.MakeFsOnDisk(), dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range Check(objs) {
				t.Error(p)
			}
			replicas := map[string]int32{}
			for _, o := range objs {
				if d, ok := o.(*appsv1.Deployment); ok && d.Spec.Replicas != nil {
					replicas[d.Name] = *d.Spec.Replicas
				}
			}
			want := int32(2)
			if strings.Contains(dir, "local") {
				want = 1
			}
			for _, name := range []string{"visibility", "mailbox"} {
				if replicas[name] != want {
					t.Errorf("Deployment %s: replicas %d, want %d", name, replicas[name], want)
				}
			}
		})
	}
}

// A small kustomization that passes; the negative cases below break one thing each.
const goodDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: visibility
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: visibility}
  template:
    metadata:
      labels: {app.kubernetes.io/name: visibility}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      securityContext:
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: visibility
          image: sightline/visibility
          imagePullPolicy: IfNotPresent
          ports:
            - {name: grpc, containerPort: 50051}
          env:
            - name: AUTH_KEYS
              valueFrom:
                secretKeyRef: {name: sightline-auth, key: AUTH_KEYS}
          readinessProbe:
            grpc: {port: 50051}
          livenessProbe:
            grpc: {port: 50051}
          resources:
            requests: {cpu: 250m, memory: 256Mi}
            limits: {cpu: "1", memory: 512Mi}
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: visibility
spec:
  selector: {app.kubernetes.io/name: visibility}
  ports:
    - {name: grpc, port: 50051, targetPort: grpc}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: visibility
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: visibility}
  ingress:
    - ports: [{port: grpc}]
`

func build(t *testing.T, manifest string) ([]any, error) {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	if err := fsys.WriteFile("/k/kustomization.yaml", []byte("resources: [all.yaml]\n")); err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFile("/k/all.yaml", []byte(manifest)); err != nil {
		t.Fatal(err)
	}
	return Build(fsys, "/k")
}

func TestGoodFixturePasses(t *testing.T) {
	objs, err := build(t, goodDeployment)
	if err != nil {
		t.Fatal(err)
	}
	if p := Check(objs); len(p) > 0 {
		t.Fatalf("problems in the good fixture:\n%s", strings.Join(p, "\n"))
	}
}

func TestStrictDecodingRejects(t *testing.T) {
	for name, tc := range map[string]struct{ old, new, want string }{
		"unknown field":  {"imagePullPolicy: IfNotPresent", "imagePullPolcy: IfNotPresent", `unknown field "spec.template.spec.containers[0].imagePullPolcy"`},
		"wrong case":     {"imagePullPolicy: IfNotPresent", "ImagePullPolicy: IfNotPresent", "ImagePullPolicy"},
		"unknown kind":   {"kind: Service\n", "kind: Servise\n", `kind "Servise"`},
		"old apiVersion": {"apiVersion: networking.k8s.io/v1", "apiVersion: extensions/v1beta1", "extensions/v1beta1"},
		"wrong type":     {"containerPort: 50051", "containerPort: grpc", "containerPort"},
	} {
		t.Run(name, func(t *testing.T) {
			m := strings.Replace(goodDeployment, tc.old, tc.new, 1)
			if m == goodDeployment {
				t.Fatalf("fixture does not contain %q", tc.old)
			}
			_, err := build(t, m)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestCheckRejects(t *testing.T) {
	for name, tc := range map[string]struct{ old, new, want string }{
		"probe on undeclared port": {"livenessProbe:\n            grpc: {port: 50051}", "livenessProbe:\n            grpc: {port: 50099}", "livenessProbe uses port 50099, which the container does not declare"},
		"service targets no port":  {"targetPort: grpc}", "targetPort: grpcx}", "targets grpcx, which no container"},
		"service selects nothing":  {"selector: {app.kubernetes.io/name: visibility}\n  ports", "selector: {app.kubernetes.io/name: visibilty}\n  ports", "matches no Deployment"},
		"unknown secret":           {"name: sightline-auth, key", "name: sightline-oops, key", "Secret/sightline-oops, which is neither in the build nor operator-provided"},
		"unknown secret key":       {"key: AUTH_KEYS}", "key: AUTH_KEY}", `key "AUTH_KEY" of Secret/sightline-auth`},
		"no runAsNonRoot":          {"runAsNonRoot: true\n", "runAsNonRoot: false\n", "runAsNonRoot must be true"},
		"no memory limit":          {`limits: {cpu: "1", memory: 512Mi}`, `limits: {cpu: "1"}`, "no memory limit"},
		"policy selects nothing":   {"podSelector:\n    matchLabels: {app.kubernetes.io/name: visibility}", "podSelector:\n    matchLabels: {app.kubernetes.io/name: mailbox}", "NetworkPolicy/visibility: podSelector matches no"},
		"namespaced":               {"metadata:\n  name: visibility\nspec:\n  selector:", "metadata:\n  name: visibility\n  namespace: prod\nspec:\n  selector:", "namespace-agnostic"},
	} {
		t.Run(name, func(t *testing.T) {
			m := strings.Replace(goodDeployment, tc.old, tc.new, 1)
			if m == goodDeployment {
				t.Fatalf("fixture does not contain %q", tc.old)
			}
			objs, err := build(t, m)
			if err != nil {
				t.Fatal(err)
			}
			problems := Check(objs)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Fatalf("no problem mentions %q; got:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

func TestPDBAndHPATargets(t *testing.T) {
	extra := `---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: gone}
spec:
  minAvailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: gone}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: gone}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: gone}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
`
	objs, err := build(t, goodDeployment+extra)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Check(objs), "\n")
	for _, want := range []string{"PodDisruptionBudget/gone: selector matches no", "HorizontalPodAutoscaler/gone: scaleTargetRef Deployment/gone"} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem mentions %q; got:\n%s", want, got)
		}
	}
}
