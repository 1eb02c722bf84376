package localcluster

import (
	"encoding/base64"
	"fmt"
	"os"
)

// writeKubeconfig writes a kubeconfig with everything embedded, so it stays
// valid when copied elsewhere and needs no other file.
func writeKubeconfig(path, server string, caPEM []byte, user string, kp keyPair) error {
	b64 := base64.StdEncoding.EncodeToString
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: ferry-localcluster
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %q
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: ferry-localcluster
  context:
    cluster: ferry-localcluster
    user: %q
current-context: ferry-localcluster
`, server, b64(caPEM), user, b64(kp.certPEM), b64(kp.keyPEM), user)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
