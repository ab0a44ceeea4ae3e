from argo.cli import main

main()
