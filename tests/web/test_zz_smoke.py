def test_smoke(login_as):
    c = login_as("finance")
    r = c.get("/dashboard/")
    print(r.status_code, r.get_data(as_text=True)[:3000])
    r = c.get("/dashboard/export.xlsx")
    print(r.status_code, len(r.data))
